//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/ipdm/ipdm/pipeline/abi"
)

//go:wasmimport ipdm input
func hostInput(ptr unsafe.Pointer)

//go:wasmimport ipdm output
func hostOutput(ptr unsafe.Pointer, n uint32)

//go:wasmimport ipdm store_write
func hostStoreWrite(kp unsafe.Pointer, kl uint32, vp unsafe.Pointer, vl uint32)

//go:wasmimport ipdm store_get
func hostStoreGet(input int32, kp unsafe.Pointer, kl uint32, bp unsafe.Pointer, bcap uint32) int32

//go:wasmimport ipdm log
func hostLog(ptr unsafe.Pointer, n uint32)

//go:wasmimport ipdm panic
func hostPanic(ptr unsafe.Pointer, n uint32)

// inbuf is reused by every Read (an instance serves one call at a time).
var inbuf []byte

// Read fetches the current call's input, n bytes long (the entrypoint's
// argument), and decodes it. Malformed framing ends the call through Panic.
// The input's bytes are valid until the next Read: copy what must outlive
// the call.
func Read(n int32) abi.Input {
	if n < 0 {
		Panic("guest: negative input length")
	}
	if cap(inbuf) < int(n) {
		inbuf = make([]byte, n)
	}
	buf := inbuf[:n]
	hostInput(unsafe.Pointer(unsafe.SliceData(buf)))
	in, err := abi.DecodeInput(buf)
	if err != nil {
		Panic("guest: read input: " + err.Error())
	}
	return in
}

// Output emits one output record.
func Output(rec []byte) {
	hostOutput(unsafe.Pointer(unsafe.SliceData(rec)), uint32(len(rec)))
}

// StoreWrite emits one write to the module's store.
func StoreWrite(key, value []byte) {
	hostStoreWrite(unsafe.Pointer(unsafe.SliceData(key)), uint32(len(key)),
		unsafe.Pointer(unsafe.SliceData(value)), uint32(len(value)))
}

// StoreWriteString is StoreWrite without converting strings to slices.
func StoreWriteString(key, value string) {
	hostStoreWrite(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)),
		unsafe.Pointer(unsafe.StringData(value)), uint32(len(value)))
}

// storeGetFirst is the buffer size of StoreGet's first attempt; larger
// values take a second host call.
const storeGetFirst = 128

// StoreGet reads key from the store that is the module's input number input
// (in get mode). ok is false when the key is absent.
func StoreGet(input int, key []byte) (value []byte, ok bool) {
	buf := make([]byte, storeGetFirst)
	for {
		n := hostStoreGet(int32(input), unsafe.Pointer(unsafe.SliceData(key)), uint32(len(key)),
			unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
		if n < 0 {
			return nil, false
		}
		if int(n) <= len(buf) {
			return buf[:n], true
		}
		buf = make([]byte, n)
	}
}

// Log sends one debug line to the host (captured up to a per-call cap).
func Log(msg string) {
	hostLog(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

// Panic ends the current call; the host reports msg verbatim as the trap
// (an empty message is reported as "ipdm.panic: empty message"). It does
// not return.
func Panic(msg string) {
	hostPanic(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
	panic(msg) // not reached: the host traps
}
