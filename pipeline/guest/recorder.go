//go:build !wasip1

package guest

import (
	"bytes"

	"github.com/ipdm/ipdm/pipeline/abi"
)

// Recorder is a Host for native tests: it serves InputFrame to Read and
// Stores to StoreGet, and records what the module sends. Its slices are
// copies, so module code may reuse its buffers.
type Recorder struct {
	// InputFrame is what Read returns (framed with abi.EncodeInput).
	InputFrame []byte
	// Stores maps a store input's index to its keys and values.
	Stores map[int]map[string][]byte

	Outputs [][]byte
	Writes  []abi.Delta
	Logs    []string
}

// Input implements InputSource.
func (r *Recorder) Input() []byte { return r.InputFrame }

// Output records rec.
func (r *Recorder) Output(rec []byte) { r.Outputs = append(r.Outputs, bytes.Clone(rec)) }

// StoreWrite records the write.
func (r *Recorder) StoreWrite(key, value []byte) {
	r.Writes = append(r.Writes, abi.Delta{Key: bytes.Clone(key), Value: bytes.Clone(value)})
}

// StoreGet reads Stores.
func (r *Recorder) StoreGet(input int, key []byte) ([]byte, bool) {
	v, ok := r.Stores[input][string(key)]
	return bytes.Clone(v), ok
}

// Log records msg.
func (r *Recorder) Log(msg string) { r.Logs = append(r.Logs, msg) }
