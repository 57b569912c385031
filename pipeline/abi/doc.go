// Package abi holds the byte framing shared by the pipeline host (package wasm
// and the engine) and pipeline guest modules (package pipeline/guest and the C
// header ipdm_pipeline.h).
//
// A module entrypoint ENTRY(n) receives one framed Input per block:
//
//	u64 block number | u64 block time (unix s, 0 unknown) | u32 count | count × (u32 len | bytes)
//
// one entry per manifest input, in manifest order. Map inputs are framed as
// Records (u32 count | count × (u32 len | bytes)); store inputs in deltas mode
// are framed as Deltas (u32 count | count × (u32 keylen | key | u32 vallen |
// value)). All integers are little-endian.
//
// Decoders are strict: every length is bounds-checked against the remaining
// bytes, trailing bytes are rejected, and every failure wraps ErrMalformed, so
// a decoder never panics or over-allocates on hostile input. Decoded slices
// alias the input buffer (no copies); callers that keep them past the
// buffer's lifetime must copy.
//
// The package is pure Go without build tags or dependencies beyond the
// standard library, so it compiles for GOOS=wasip1 guests as well as hosts.
// All functions are safe for concurrent use.
package abi
