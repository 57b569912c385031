// Command pipego is a pipeline module (a WASI reactor built with
// -buildmode=c-shared) exercising the pipeline ABI for the sandbox's
// instance tests. Every entrypoint takes one framed abi.Input.
package main

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/guest"
)

// calls counts calls across the instance's life: state persists.
var calls int

// echo outputs a header, then every input, then every record of input 0
// when it is a Records frame.
//
//go:wasmexport echo
func echo(n int32) {
	in := guest.Read(n)
	calls++
	guest.Output([]byte(fmt.Sprintf("block=%d time=%d inputs=%d calls=%d", in.Block, in.Time, len(in.Inputs), calls)))
	for _, b := range in.Inputs {
		guest.Output(b)
	}
	if len(in.Inputs) > 0 {
		if recs, err := abi.DecodeRecords(in.Inputs[0]); err == nil {
			for _, r := range recs {
				guest.Output(append([]byte("rec:"), r...))
			}
		}
	}
}

// store treats input 0 as Records of "key=value", writes each, then reads
// each key back from store input 1 and outputs "key=value|got".
//
//go:wasmexport store
func store(n int32) {
	in := guest.Read(n)
	recs, err := abi.DecodeRecords(in.Inputs[0])
	if err != nil {
		guest.Panic("store: " + err.Error())
	}
	for _, r := range recs {
		k, v, _ := strings.Cut(string(r), "=")
		guest.StoreWriteString(k, v)
		got, ok := guest.StoreGet(1, []byte(k))
		if !ok {
			got = []byte("<absent>")
		}
		guest.Output([]byte(k + "=" + v + "|" + string(got)))
	}
}

// deltas outputs "key=value" for every delta of input 0.
//
//go:wasmexport deltas
func deltas(n int32) {
	in := guest.Read(n)
	ds, err := abi.DecodeDeltas(in.Inputs[0])
	if err != nil {
		guest.Panic("deltas: malformed frame")
	}
	for _, d := range ds {
		guest.Output(append(append(d.Key, '='), d.Value...))
	}
}

//go:wasmexport log
func logf(n int32) {
	in := guest.Read(n)
	guest.Log("hello from block " + strconv.FormatUint(in.Block, 10))
	guest.Log(strings.Repeat("x", 100))
	guest.Output([]byte("logged"))
}

//go:wasmexport explicit_panic
func explicitPanic(n int32) {
	in := guest.Read(n)
	guest.Panic(fmt.Sprintf("bad block %d: %s", in.Block, in.Inputs[0]))
}

//go:wasmexport index_panic
func indexPanic(n int32) {
	in := guest.Read(n)
	s := []int{1, 2, 3}
	guest.Output([]byte(fmt.Sprint(s[in.Block])))
}

var sink int

//go:wasmexport loop
func loop(n int32) {
	for i := 0; ; i++ {
		sink += i
	}
}

// grow allocates 1 MiB chunks and keeps them until memory runs out.
//
//go:wasmexport grow
func grow(n int32) {
	var keep [][]byte
	for {
		keep = append(keep, make([]byte, 1<<20))
		sink += len(keep)
	}
}

// det outputs what a plain runtime would make nondeterministic.
//
//go:wasmexport det
func det(n int32) {
	guest.Read(n)
	r := make([]byte, 8)
	_, _ = rand.Read(r)
	m := map[int]int{}
	for i := range 32 {
		m[i] = i
	}
	var order []string
	for k := range m {
		order = append(order, strconv.Itoa(k))
	}
	fmt.Println("stdout line")
	guest.Output([]byte(fmt.Sprintf("now=%d rand=%x mrand=%d map=%s", time.Now().UnixNano(), r, mrand.Int64(), strings.Join(order, ","))))
}

// nop does nothing: the benchmark's per-call overhead.
//
//go:wasmexport nop
func nop(n int32) {}

func main() {}
