// Package guest is the Go side of the pipeline module ABI: import it from
// pipeline modules built as WASI reactors,
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o module.wasm .
//
// whose entrypoints the host (package wasm, Instance.Call) calls once per
// block:
//
//	//go:wasmexport map_transfers
//	func mapTransfers(n int32) {
//		in := guest.Read(n)
//		for _, row := range transfers.Map(in) {
//			guest.Output(row)
//		}
//	}
//
//	func main() {}
//
// Read fetches and decodes the block's framed input (package
// pipeline/abi); Output emits a record (map modules); StoreWrite emits a
// store write (store modules); StoreGet reads a store input in get mode;
// Log sends a debug line; Panic ends the call with a message the host
// reports verbatim as the trap. An ordinary Go panic also fails the call:
// the host reports the runtime's "panic: ..." text.
//
// Built for any other target, the functions talk to a Host set with SetHost,
// so the same module code runs in native unit tests; Recorder is a ready
// Host that records everything. There, Panic panics with the message.
//
// In a Wasm guest the functions must be called from the goroutine running
// the entrypoint (the host serves one call at a time). Natively SetHost
// sets a package-level variable: tests using it must not run in parallel.
package guest
