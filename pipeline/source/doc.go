// Package source decodes the chain data that pipelines index into the typed,
// canonical values handed to modules.
//
// Ethereum: [DecodeRPCBlock] reads raw JSON-RPC responses (an
// eth_getBlockByNumber response with full transactions plus one
// eth_getTransactionReceipt response per transaction); [DecodeETL] reads
// ethereum-etl JSON lines (blocks.json, transactions.json, logs.json) and
// groups transactions and logs under their blocks. Both produce the same
// [Block] for the same chain block, so its canonical encoding and content ID
// do not depend on where the data came from.
//
// Solana: [DecodeInstructionsCSV] reads solana-etl instruction exports;
// [DecodeSolanaTransactions] reads getTransaction responses (jsonParsed
// encoding) into the same [Instruction] rows solana-etl exports, including
// its decoding of Serum DEX v3 instructions ([DecodeProgram]). A [Slot] groups
// a slot's instructions.
//
// What modules receive: [Block.Encode] (source kind ethereum-block),
// [Block.EncodeLogs] (ethereum-logs) and [Slot.Encode]
// (solana-instructions) are versioned canonical JSON encodings — fixed field
// order, lowercase hex, integers that can exceed 2^53 as decimal strings, no
// floats, no insignificant whitespace. [DecodeBlock] and [DecodeSlot] read
// them back. The block hash used for proof-of-processing is
// [Block.ContentID] / [Slot.ContentID]: the CIDv1 (JSON codec, SHA-256) of
// exactly the bytes the module was given. The chain's own block hash names
// the block; the content ID commits to what was processed.
//
// Numbers are exact: quantities that always fit in 64 bits are uint64, token
// amounts and wei values are *big.Int, and JSON numbers are read with
// json.Number, never through float64.
//
// Malformed input yields an error matching [ErrMalformed], usually a
// *[DecodeError] naming the input, line, block number or slot, and field;
// decoders never panic on input. The package is pure: no I/O beyond the
// readers it is given, no goroutines, no clock; values are plain data.
package source
