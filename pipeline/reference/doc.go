// Package reference holds native Go implementations of the two example
// pipeline modules. They are the baseline the Wasm builds of the same
// modules are benchmarked against, and the oracle their outputs are tested
// against, so their behaviour is specified here precisely.
//
// # erc20-transfers
//
// [TokenTransfers] turns a block's logs into [TokenTransfer] rows, exactly as
// ethereum-etl's token_transfers export does. A log is a transfer when its
// first topic is [TransferTopic] (keccak256 of
// "Transfer(address,address,uint256)") and its topics plus its data cut
// into 32-byte words make exactly four words: ERC-20 (three topics, the
// amount in data), ERC-721 (four topics: the token ID is the fourth topic
// and data is empty) and contracts that index nothing (one topic, three data
// words) all qualify; any other shape is skipped. Word 1 is from, word 2 is
// to (the low 20 bytes, lowercase 0x-hex), word 3 is the value as an exact
// unsigned decimal string — the amount for ERC-20, the token ID for ERC-721.
// The rows do not say which standard a contract follows: ethereum-etl's
// format does not either. A data length that is not a multiple of 32 leaves a
// short last word, read as the number it spells.
//
// # spl-transfers
//
// [SPLTransfers] turns Solana instructions (as solana-etl exports them) into
// [SPLTransfer] rows; fields that do not apply are empty strings:
//
//	program           instruction_type   transfer_type  fields (from params)
//	spl-token[-2022]  transfer           spl-transfer   source, destination, authority, value=amount
//	                  transferChecked    spl-transfer   + mint, value=tokenAmount.amount, decimals=tokenAmount.decimals
//	                  mintTo             mintTo         destination=account, mint, mint_authority=mintAuthority, value=amount
//	                  mintToChecked      mintTo         + value=tokenAmount.amount, decimals
//	                  burn               burn           source=account, authority, mint, value=amount
//	                  burnChecked        burn           + value=tokenAmount.amount, decimals
//	system            transfer           transfer       source, destination, value=lamports
//
// A multisig owner (multisigAuthority, multisigMintAuthority) fills authority
// or mint_authority. This follows solana-etl's token_transfers with three
// deliberate differences: the account a mintTo credits and a burn debits are
// reported (solana-etl leaves destination and source empty), the checked
// variants read the amount from tokenAmount (solana-etl reads a missing
// "amount" and reports no value for burnChecked and mintToChecked), and
// spl-token-2022 counts like spl-token.
//
// Values are exact unsigned decimal strings, never floats. Instructions of
// failed transactions are included, as in solana-etl: instruction exports
// carry no transaction status.
//
// # Module form
//
// [MapERC20Transfers] and [MapSPLTransfers] are the modules' byte-level
// contract: the canonical input encoding of package pipeline/source in, JSON
// lines out (one row per line, fields in the order above). They are what a
// Wasm build must reproduce byte for byte.
//
// The package is pure and safe for concurrent use.
package reference
