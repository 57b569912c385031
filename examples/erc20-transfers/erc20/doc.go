// Package erc20 is the logic of the erc20-transfers example pipeline,
// written once and compiled both natively (tests, benchmarks) and into the
// Wasm guest in ../guest.
//
// [Mapper.Map] is the erc20_transfers map module: one Ethereum block in the
// canonical ipdm.ethereum.logs.v1 encoding (source.Block.EncodeLogs) in, one
// row per ERC-20/721 Transfer log out, each row a compact JSON object with
// exactly these fields in this order:
//
//	{"token_address":"0x…","from_address":"0x…","to_address":"0x…","value":"5000000000000000000",
//	 "transaction_hash":"0x…","log_index":0,"block_number":1755635}
//
// Rows are byte-identical to json.Marshal of pipeline/reference's
// TokenTransfer for the same log, and the selection follows the reference
// exactly: first topic Transfer(address,address,uint256), topics plus data
// words making exactly four words, value the exact unsigned decimal of word
// 3 (a short last data word reads as the number it spells).
//
// [Volume] is the token_volume store module: for each row of
// erc20_transfers it writes key token_address, value value, under the add
// policy (bigint), so the store holds the total value moved per token.
// [ParseRow] reads one row back.
//
// # Input
//
// Map does not decode JSON generically: it scans the canonical encoding,
// whose field order and spelling are fixed, validating every field as
// source.DecodeBlock does (lowercase hex of the right length, integers in
// range, log indexes ascending, at most four topics, even-length data). Any
// input that is not a canonical logs encoding of a valid block is an error
// matching [ErrMalformed] (an *[InputError] giving the byte offset and the
// field); the ethereum-block encoding is refused with a message saying to
// declare the ethereum-logs source. Nothing panics on any input.
//
// # Speed
//
// The scan is written for Go compiled to Wasm as much as for native Go:
// nothing is allocated per block (a Mapper reuses its buffers, rows are
// assembled from slices of the input), eight bytes are checked per step
// with plain 64-bit arithmetic (hex digits, integers, the fixed keys of a
// log compared as whole words), and word 3 becomes a decimal through 32-bit
// limbs and multiplications, not math/big. Go's Wasm code pays for every
// taken branch and call (a jump through the function's dispatch loop, and
// fuel metering at each), so straight-line word arithmetic is what keeps
// the Wasm build within reach of native: BenchmarkERC20Transfers in the
// parent package measures both on the same blocks.
//
// # Concurrency
//
// A Mapper is not safe for concurrent use; use one per goroutine. The
// package-level functions are safe for concurrent use.
package erc20
