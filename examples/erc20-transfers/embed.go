// Package erc20transfers ships the erc20-transfers example pipeline ready
// to run: its manifest, its module compiled to Wasm, and two mainnet blocks
// of ethereum-etl data to run it on, so that 'ipdm demo' needs no Go
// toolchain and no network.
//
// The pipeline (ipdm.yaml) has two modules in one binary,
// erc20_transfers.wasm, built from ./guest over the logic in ./erc20:
//
//	erc20_transfers  map    ethereum-logs -> one JSON row per ERC-20/721 Transfer (json:ipdm.erc20.Transfers)
//	token_volume     store  erc20_transfers rows -> token_address: total value (bigint, add)
//
// TestWasmMatchesSource rebuilds the binary and checks it is byte for byte
// the one embedded here; the tests also run it through package wasm on the
// fixture blocks and compare every row and store write with the native
// build and with pipeline/reference.
//
// Everything here is read-only data; the package is safe for concurrent
// use.
package erc20transfers

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
)

// Wasm is erc20_transfers.wasm, the module of both pipeline modules
// (entrypoints map_transfers and store_volume). Rebuild it from the module
// root with
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false \
//	    -ldflags='-s -w' -o examples/erc20-transfers/erc20_transfers.wasm ./examples/erc20-transfers/guest
//
//go:embed erc20_transfers.wasm
var Wasm []byte

// Manifest is ipdm.yaml, the pipeline manifest. Its modules name the
// binary as "file: erc20_transfers.wasm", relative to the manifest.
//
//go:embed ipdm.yaml
var Manifest []byte

// WasmFile is the file name the manifest gives the module binary.
const WasmFile = "erc20_transfers.wasm"

// The blocks of the embedded fixture.
const (
	FixtureFirstBlock = 17173049
	FixtureLastBlock  = 17173050
)

var (
	//go:embed testdata/blocks.json.gz
	blocksGz []byte
	//go:embed testdata/transactions.json.gz
	transactionsGz []byte
	//go:embed testdata/logs.json.gz
	logsGz []byte
)

// FixtureLicense is the license of the fixture data (ethereum-etl's, MIT),
// to show wherever the data is redistributed.
//
//go:embed testdata/LICENSE
var FixtureLicense string

// FixtureETL returns ethereum-etl's JSON-lines export of mainnet blocks
// FixtureFirstBlock to FixtureLastBlock (2 blocks, 298 transactions, 681
// logs, 291 of them transfers), ready for source.DecodeETL. Each call
// returns fresh readers that decompress the embedded data as they are read.
func FixtureETL() (blocks, transactions, logs io.Reader) {
	return &gunzip{gz: blocksGz}, &gunzip{gz: transactionsGz}, &gunzip{gz: logsGz}
}

// gunzip decompresses gz on demand; a corrupt stream (impossible for the
// data embedded at build time) is a read error, not a panic.
type gunzip struct {
	gz  []byte
	r   *gzip.Reader
	err error
}

func (g *gunzip) Read(p []byte) (int, error) {
	if g.r == nil && g.err == nil {
		g.r, g.err = gzip.NewReader(bytes.NewReader(g.gz))
	}
	if g.err != nil {
		return 0, g.err
	}
	return g.r.Read(p)
}
