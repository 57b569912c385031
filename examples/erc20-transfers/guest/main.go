// Command guest is the erc20-transfers pipeline module: package erc20's
// logic behind the pipeline ABI, as a WASI reactor with two entrypoints,
//
//	map_transfers  erc20_transfers: ethereum-logs block in, one JSON row per transfer out
//	store_volume   token_volume: erc20_transfers rows in, store writes (token_address, value) out
//
// Build it from the module root (the checked-in erc20_transfers.wasm is
// exactly this; TestWasmMatchesSource checks it):
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false \
//	    -ldflags='-s -w' -o examples/erc20-transfers/erc20_transfers.wasm ./examples/erc20-transfers/guest
package main

import (
	"strconv"

	"github.com/ipdm/ipdm/examples/erc20-transfers/erc20"
	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/guest"
)

// mapper keeps its buffers across calls: the instance lives for a segment.
var mapper erc20.Mapper

//go:wasmexport map_transfers
func mapTransfers(n int32) {
	in := guest.Read(n)
	if len(in.Inputs) != 1 {
		guest.Panic("erc20_transfers: " + strconv.Itoa(len(in.Inputs)) + " inputs; the module reads one, the ethereum-logs source")
	}
	if err := mapper.Map(in.Inputs[0], guest.Output); err != nil {
		guest.Panic("erc20_transfers: block " + strconv.FormatUint(in.Block, 10) + ": " + err.Error())
	}
}

//go:wasmexport store_volume
func storeVolume(n int32) {
	in := guest.Read(n)
	if len(in.Inputs) != 1 {
		guest.Panic("token_volume: " + strconv.Itoa(len(in.Inputs)) + " inputs; the module reads one, the rows of erc20_transfers")
	}
	rows, err := abi.DecodeRecords(in.Inputs[0])
	if err != nil {
		guest.Panic("token_volume: block " + strconv.FormatUint(in.Block, 10) + ": " + err.Error())
	}
	if err := erc20.Volume(rows, guest.StoreWrite); err != nil {
		guest.Panic("token_volume: block " + strconv.FormatUint(in.Block, 10) + ": " + err.Error())
	}
}

func main() {}
