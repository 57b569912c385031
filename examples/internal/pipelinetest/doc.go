// Package pipelinetest holds the test helpers the example pipelines
// (examples/erc20-transfers, examples/spl-transfers) share: a Guest that
// compiles a module binary once and instantiates it per test through
// package wasm, a Recorder StreamHost that keeps what the guest sends, a
// benchmark of a guest against its native build, the check that a
// checked-in binary is exactly what its source compiles to, and the
// helpers that find the shared fixtures beside the checkout.
//
// It is for tests only. A Guest is safe for concurrent use; a Recorder
// belongs to one call at a time.
package pipelinetest
