package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math"
)

// virtualClock is the only time a guest sees. It starts at the run's epoch
// and advances by clockTick on every reading and by the requested duration on
// every sleep, so that time moves (loops waiting for it terminate) yet every
// reading depends only on what the guest did before.
type virtualClock struct {
	epoch   int64 // wall time at start, ns since the Unix epoch
	elapsed int64 // ns since start
}

// clockTick is how far each clock reading advances the virtual clock.
const clockTick = 1000 // 1µs, also the resolution reported to the guest

func (c *virtualClock) advance(ns int64) {
	if ns <= 0 {
		return
	}
	if c.elapsed > math.MaxInt64/2-ns { // saturate far in the future
		c.elapsed = math.MaxInt64 / 2
		return
	}
	c.elapsed += ns
}

func (c *virtualClock) walltime() (sec int64, nsec int32) {
	c.advance(clockTick)
	t := c.epoch + c.elapsed
	return t / 1e9, int32(t % 1e9)
}

func (c *virtualClock) nanotime() int64 {
	c.advance(clockTick)
	return c.elapsed
}

func (c *virtualClock) nanosleep(ns int64) { c.advance(ns) }

// seededRand is the guest's randomness: SHA-256 in counter mode over a key
// derived from the run's seed. It is defined here in full so that it can
// never change under us (unlike a library generator).
type seededRand struct {
	key [32]byte
	ctr uint64
	buf [32]byte
	off int
}

func newSeededRand(seed []byte) *seededRand {
	h := sha256.New()
	h.Write([]byte("ipdm wasm random v1\x00"))
	h.Write(seed)
	r := &seededRand{off: 32}
	h.Sum(r.key[:0])
	return r
}

func (r *seededRand) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.off == len(r.buf) {
			var block [40]byte
			copy(block[:], r.key[:])
			binary.LittleEndian.PutUint64(block[32:], r.ctr)
			r.ctr++
			r.buf = sha256.Sum256(block[:])
			r.off = 0
		}
		c := copy(p[n:], r.buf[r.off:])
		r.off += c
		n += c
	}
	return n, nil
}

// capWriter keeps the first max bytes written to it and reports the rest as
// written too (the guest sees success either way), remembering that it
// truncated. live, when set, gets a copy of each kept byte as it arrives;
// its errors are ignored.
type capWriter struct {
	buf       bytes.Buffer
	max       int
	truncated bool
	live      io.Writer
}

func (w *capWriter) Write(p []byte) (int, error) {
	n := len(p)
	if room := w.max - w.buf.Len(); len(p) > room {
		p = p[:room]
		w.truncated = true
	}
	w.buf.Write(p)
	if w.live != nil && len(p) > 0 {
		_, _ = w.live.Write(p)
	}
	return n, nil
}

// reset empties the writer for the next call of an instance.
func (w *capWriter) reset() {
	w.buf.Reset()
	w.truncated = false
}

// fullReader turns short reads into full ones, so that what the guest sees
// does not depend on how the host's reader splits data.
type fullReader struct{ r io.Reader }

func (f fullReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = nil
	}
	return n, err
}
