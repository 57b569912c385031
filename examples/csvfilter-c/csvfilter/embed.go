// Package csvfilter ships the csvfilter example, compiled, so that
// 'ipdm demo' runs a real Wasm job on a machine without a C toolchain.
// TestEmbeddedModuleMatchesSource rebuilds it from csvfilter.c with
// Debian's clang and checks the bytes are the same.
package csvfilter

import _ "embed"

// Module is csvfilter.wasm: clang --target=wasm32-wasi -O2 -o csvfilter/csvfilter.wasm csvfilter.c
//
//go:embed csvfilter.wasm
var Module []byte
