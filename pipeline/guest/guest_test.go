//go:build !wasip1

package guest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/abi"
)

// mapRows is module logic written against the guest API, as a pipeline
// module's entrypoint body would be: it reads the params (input 1) as a
// prefix, outputs every record of input 0 with it, writes a count and reads
// a previous total from store input 2.
func mapRows(n int32) {
	in := Read(n)
	recs, err := abi.DecodeRecords(in.Inputs[0])
	if err != nil {
		Panic("mapRows: " + err.Error())
	}
	prefix := string(in.Inputs[1])
	for _, r := range recs {
		Output([]byte(prefix + string(r)))
	}
	prev, ok := StoreGet(2, []byte("total"))
	if !ok {
		prev = []byte("0")
	}
	Log(fmt.Sprintf("block %d: %d records after %s", in.Block, len(recs), prev))
	StoreWriteString("count", fmt.Sprint(len(recs)))
	StoreWrite([]byte("last"), []byte(fmt.Sprint(in.Block)))
}

func TestNativeHost(t *testing.T) {
	frame := abi.EncodeInput(42, 1_700_000_000, [][]byte{abi.EncodeRecords([][]byte{[]byte("a"), []byte("b")}), []byte("p:"), nil})
	rec := &Recorder{InputFrame: frame, Stores: map[int]map[string][]byte{2: {"total": []byte("17")}}}
	SetHost(rec)
	t.Cleanup(func() { SetHost(nil) })

	mapRows(int32(len(frame)))

	if got := fmt.Sprintf("%q", rec.Outputs); got != `["p:a" "p:b"]` {
		t.Errorf("Outputs = %s", got)
	}
	var writes []string
	for _, w := range rec.Writes {
		writes = append(writes, string(w.Key)+"="+string(w.Value))
	}
	if got := strings.Join(writes, " "); got != "count=2 last=42" {
		t.Errorf("Writes = %s", got)
	}
	if got := fmt.Sprint(rec.Logs); got != "[block 42: 2 records after 17]" {
		t.Errorf("Logs = %s", got)
	}
}

func TestNativePanics(t *testing.T) {
	recovered := func(f func()) (msg any) {
		defer func() { msg = recover() }()
		f()
		return nil
	}
	SetHost(nil)
	if msg := recovered(func() { Output(nil) }); !strings.Contains(fmt.Sprint(msg), "no Host set") {
		t.Errorf("Output without a Host: %v", msg)
	}
	SetHost(&Recorder{InputFrame: []byte("bad")})
	t.Cleanup(func() { SetHost(nil) })
	if msg := recovered(func() { Read(3) }); !strings.Contains(fmt.Sprint(msg), "malformed frame") {
		t.Errorf("Read of a malformed frame: %v", msg)
	}
	if msg := recovered(func() { Read(4) }); !strings.Contains(fmt.Sprint(msg), "length 4, host has 3") {
		t.Errorf("Read with the wrong length: %v", msg)
	}
	if msg := recovered(func() { Panic("stop here") }); msg != "stop here" {
		t.Errorf("Panic: %v", msg)
	}
	SetHost(outputOnly{})
	if msg := recovered(func() { Read(3) }); !strings.Contains(fmt.Sprint(msg), "InputSource") {
		t.Errorf("Read from a Host without input: %v", msg)
	}
}

type outputOnly struct{}

func (outputOnly) Output([]byte)                       {}
func (outputOnly) StoreWrite(_, _ []byte)              {}
func (outputOnly) StoreGet(int, []byte) ([]byte, bool) { return nil, false }
func (outputOnly) Log(string)                          {}
