//go:build wasip1

package guest

import "unsafe"

//go:wasmimport ipdm sha256
func hostSHA256(ptr *byte, n uint32, out *byte)

// SHA256 returns the SHA-256 digest of data, computed by the host.
func SHA256(data []byte) [32]byte {
	var sum [32]byte
	hostSHA256(unsafe.SliceData(data), uint32(len(data)), &sum[0])
	return sum
}
