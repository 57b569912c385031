// Command hashgo hashes stdin with SHA-256, in the guest (crypto/sha256) or
// in the host (guest.SHA256), or only reads it (none), for
// BenchmarkGuestSHA256.
//
//	hashgo guest|host|none
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/ipdm/ipdm/wasm/guest"
)

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	switch os.Args[1] {
	case "host":
		fmt.Printf("%x\n", guest.SHA256(data))
	case "guest":
		fmt.Printf("%x\n", sha256.Sum256(data))
	default:
		fmt.Println(len(data))
	}
}
