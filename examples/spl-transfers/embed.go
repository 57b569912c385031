// Package spltransfers ships the spl-transfers example pipeline ready to
// run: its manifest and its module compiled to Wasm, so that 'ipdm demo'
// needs no Go toolchain.
//
// The pipeline (ipdm.yaml) has one module, spl_transfers.wasm, built from
// ./guest over the logic in ./spl:
//
//	spl_transfers  map  solana-instructions -> one JSON row per SPL/SOL transfer (json:ipdm.spl.Transfers)
//
// TestWasmMatchesSource rebuilds the binary and checks it is byte for byte
// the one embedded here; the tests also run it through package wasm on the
// shared Solana fixtures and compare every row with the native build and
// with pipeline/reference.
//
// Everything here is read-only data; the package is safe for concurrent
// use.
package spltransfers

import _ "embed"

// Wasm is spl_transfers.wasm (entrypoint map_spl_transfers). Rebuild it
// from the module root with
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false \
//	    -ldflags='-s -w' -o examples/spl-transfers/spl_transfers.wasm ./examples/spl-transfers/guest
//
//go:embed spl_transfers.wasm
var Wasm []byte

// Manifest is ipdm.yaml, the pipeline manifest. Its module names the binary
// as "file: spl_transfers.wasm", relative to the manifest.
//
//go:embed ipdm.yaml
var Manifest []byte

// WasmFile is the file name the manifest gives the module binary.
const WasmFile = "spl_transfers.wasm"
