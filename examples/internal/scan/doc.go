// Package scan holds the scanning code the example pipelines'
// guest-side packages (examples/erc20-transfers/erc20 and
// examples/spl-transfers/spl) share: word-at-a-time ("SWAR") byte
// classification, fixed strings matched as words, a Cursor that reads a
// fixed-layout JSON document left to right, and the InputError it reports.
//
// It compiles for GOOS=wasip1 as well as natively and uses nothing but
// the standard library's encoding/binary, errors, math/bits and strconv:
// the guests link it into their Wasm binaries. Its functions are small so
// that the compiler inlines them into the scanners' loops.
//
// Everything here is either pure or works on a Cursor owned by one
// goroutine; package-level values are read-only.
package scan
