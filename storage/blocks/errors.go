package blocks

import (
	"bytes"
	"errors"
	"fmt"

	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
	mhcore "github.com/multiformats/go-multihash/core"
)

var (
	// ErrCorrupt matches (errors.Is) the error Get returns when the stored
	// bytes of a block do not hash to its CID. Such an error also satisfies
	// ipld.IsNotFound, so a blockservice treats the block as missing and
	// fetches it again from the network.
	ErrCorrupt = errors.New("blocks: stored block is corrupt")

	// ErrClosed is returned by every operation on a closed store.
	ErrClosed = errors.New("blocks: store is closed")

	// ErrUnsupportedHash is returned by Put for a block whose CID uses a
	// multihash function this node cannot compute: such a block could never
	// be verified on read.
	ErrUnsupportedHash = errors.New("blocks: unsupported multihash function")
)

// CorruptError describes a block whose stored bytes failed verification. It
// matches both ErrCorrupt and ipld.ErrNotFound with errors.Is.
type CorruptError struct {
	Cid cid.Cid
	// QuarantinePath is where the bad bytes were moved for inspection; empty
	// if another reader had already moved them.
	QuarantinePath string
}

func (e *CorruptError) Error() string {
	if e.QuarantinePath == "" {
		return fmt.Sprintf("blocks: get %s: stored bytes do not match the hash", e.Cid)
	}
	return fmt.Sprintf("blocks: get %s: stored bytes do not match the hash (moved to %s)", e.Cid, e.QuarantinePath)
}

// Unwrap lets errors.Is match ErrCorrupt and ipld.ErrNotFound.
func (e *CorruptError) Unwrap() []error {
	return []error{ErrCorrupt, ipld.ErrNotFound{Cid: e.Cid}}
}

// hashMatches reports whether data hashes to the multihash h. It fails only
// when h is malformed or names a hash function that is not available.
func hashMatches(h multihash.Multihash, data []byte) (bool, error) {
	dec, err := multihash.Decode(h)
	if err != nil {
		return false, fmt.Errorf("decode multihash: %w", err)
	}
	sum, err := multihash.Sum(data, dec.Code, dec.Length)
	if err != nil {
		if dec.Code == multihash.IDENTITY {
			// Identity "hash" of the wrong length: the data cannot match.
			return false, nil
		}
		return false, fmt.Errorf("%w: %w", ErrUnsupportedHash, err)
	}
	return bytes.Equal(sum, h), nil
}

// checkHashSupported fails for a multihash whose function cannot be computed.
func checkHashSupported(h multihash.Multihash) error {
	dec, err := multihash.Decode(h)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupportedHash, err)
	}
	if dec.Code == multihash.IDENTITY {
		return nil
	}
	if _, err := mhcore.GetVariableHasher(dec.Code, dec.Length); err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupportedHash, err)
	}
	return nil
}
