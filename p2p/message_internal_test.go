package p2p

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
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

// FuzzDAGRequest feeds arbitrary bytes to the ProtoDAG request decoder: a
// CID that re-encodes to exactly the input, or ErrMalformedMessage.
func FuzzDAGRequest(f *testing.F) {
	good, _ := cid.Decode("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	f.Add(good.Bytes())
	f.Add(append(good.Bytes(), 0))
	f.Add([]byte{})
	f.Add([]byte{0x01, 0x55})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeDAGRequest(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedMessage) {
				t.Fatalf("error %v is not ErrMalformedMessage", err)
			}
			return
		}
		if !bytes.Equal(c.Bytes(), b) {
			t.Fatalf("decoded %s from %x, which re-encodes as %x", c, b, c.Bytes())
		}
	})
}
