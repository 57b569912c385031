// Package spl is the logic of the spl-transfers example pipeline, written
// once and compiled both natively (tests, benchmarks) and into the Wasm
// guest in ../guest.
//
// [Mapper.Map] is the spl_transfers map module: one Solana slot in the
// canonical ipdm.solana.instructions.v1 encoding (source.Slot.Encode) in,
// one row per token or SOL transfer out, each row a compact JSON object
// with exactly these fields in this order (empty strings where a field does
// not apply):
//
//	{"source":"…","destination":"…","authority":"…","value":"220000000000","decimals":"",
//	 "mint":"","mint_authority":"","transfer_type":"spl-transfer","tx_signature":"…"}
//
// Rows are byte-identical to json.Marshal of pipeline/reference's
// SPLTransfer, and the mapping is the reference's (see its package
// documentation): spl-token and spl-token-2022 transfer, transferChecked,
// mintTo, mintToChecked, burn and burnChecked, and system transfer, giving
// transfer_type spl-transfer, mintTo, burn or transfer.
//
// # Input
//
// Map does not decode JSON generically. It scans the canonical encoding,
// whose layout is fixed, validating every instruction as source.DecodeSlot
// does (base58 signatures, program IDs and accounts of the right lengths,
// integer ranges, params a JSON value nested at most 64 deep). Params, which
// carry the node's parsed instruction, are read with the semantics
// encoding/json gives the reference: keys match case-insensitively (exact
// match first), the last duplicate wins, null leaves a field as it was,
// amounts may be JSON numbers or numeric strings, strings are unescaped and
// re-escaped exactly as encoding/json does, and a value of the wrong type
// is an error. A transfer without an exact unsigned amount is an error, as
// in the reference. Every error matches [ErrMalformed] (an *[InputError]
// giving the byte offset, the field and, for params, the transaction).
// Nothing panics on any input.
//
// # Speed
//
// Nothing is allocated per slot (a Mapper reuses its buffers, rows are
// assembled from slices of the input) and the scan classifies eight bytes
// per step with plain 64-bit arithmetic (string bodies, base58, integers,
// the fixed keys of an instruction compared as whole words), which is what
// Go compiled to Wasm runs best: BenchmarkSPLTransfers in the parent
// package measures the Wasm build against native on the same slot.
//
// # Concurrency
//
// A Mapper is not safe for concurrent use; use one per goroutine. The
// package-level functions are safe for concurrent use.
package spl
