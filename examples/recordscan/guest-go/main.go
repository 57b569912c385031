// Command recordscan-go runs recordscan.Scan over /inputs/records.bin,
// PASSES times (to make the kernel dominate start-up when benchmarking).
//
//	recordscan-go KIND MASK PASSES
//	GOOS=wasip1 GOARCH=wasm go build -o recordscan-go.wasm ./examples/recordscan/guest-go
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/ipdm/ipdm/examples/recordscan"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: recordscan-go KIND MASK PASSES")
		os.Exit(2)
	}
	kind, err1 := strconv.ParseUint(os.Args[1], 0, 32)
	mask, err2 := strconv.ParseUint(os.Args[2], 0, 32)
	passes, err3 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || err3 != nil {
		fmt.Fprintln(os.Stderr, "recordscan-go: bad arguments")
		os.Exit(2)
	}
	data, err := os.ReadFile("/inputs/records.bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "recordscan-go:", err)
		os.Exit(1)
	}
	var s recordscan.Stats
	for range passes {
		s = recordscan.Scan(data, uint32(kind), uint32(mask))
	}
	fmt.Println(s)
}
