package p2p

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadFrame feeds arbitrary bytes to the request frame decoder: it
// returns a payload or an error, never panics, and never allocates more
// than MaxMessageSize.
func FuzzReadFrame(f *testing.F) {
	var good bytes.Buffer
	w := bufio.NewWriter(&good)
	writeFrame(w, []byte("hello"))
	w.Flush()
	f.Add(good.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x05, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := readFrame(bufio.NewReader(bytes.NewReader(data)))
		if err == nil && len(out) > MaxMessageSize {
			t.Fatalf("payload of %d bytes", len(out))
		}
		if err == nil {
			var again bytes.Buffer
			w := bufio.NewWriter(&again)
			writeFrame(w, out)
			w.Flush()
			if !bytes.HasPrefix(data, again.Bytes()) {
				t.Fatalf("frame does not re-encode to a prefix of its input")
			}
		}
	})
}
