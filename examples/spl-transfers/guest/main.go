// Command guest is the spl-transfers pipeline module: package spl's logic
// behind the pipeline ABI, as a WASI reactor with one entrypoint,
//
//	map_spl_transfers  spl_transfers: solana-instructions slot in, one JSON row per transfer out
//
// Build it from the module root (the checked-in spl_transfers.wasm is
// exactly this; TestWasmMatchesSource checks it):
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false \
//	    -ldflags='-s -w' -o examples/spl-transfers/spl_transfers.wasm ./examples/spl-transfers/guest
package main

import (
	"strconv"

	"github.com/ipdm/ipdm/examples/spl-transfers/spl"
	"github.com/ipdm/ipdm/pipeline/guest"
)

// mapper keeps its buffers across calls: the instance lives for a segment.
var mapper spl.Mapper

//go:wasmexport map_spl_transfers
func mapSPLTransfers(n int32) {
	in := guest.Read(n)
	if len(in.Inputs) != 1 {
		guest.Panic("spl_transfers: " + strconv.Itoa(len(in.Inputs)) + " inputs; the module reads one, the solana-instructions source")
	}
	if err := mapper.Map(in.Inputs[0], guest.Output); err != nil {
		guest.Panic("spl_transfers: slot " + strconv.FormatUint(in.Block, 10) + ": " + err.Error())
	}
}

func main() {}
