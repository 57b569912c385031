// Package guest is the Go side of the host functions package wasm offers to
// guest modules: import it from programs built with GOOS=wasip1 GOARCH=wasm
// that run as IPDM jobs. Built for any other target it falls back to the
// standard library, so the same program also runs (and is tested) natively.
//
//	sum := guest.SHA256(data) // hashed by the host: ~34x faster than in Wasm
//
// The functions are safe for concurrent use.
package guest
