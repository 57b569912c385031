package verify

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
)

// Salt sizes. A salt keeps a commitment from revealing the result it commits
// to: without it, anyone could hash candidate result CIDs and compare.
const (
	// SaltSize is the size of salts made by NewSalt.
	SaltSize = 32
	// MinSaltSize and MaxSaltSize bound the salts CheckReveal accepts.
	MinSaltSize = 16
	MaxSaltSize = 64
	// CommitmentSize is the size of a commitment (a SHA-256 digest).
	CommitmentSize = sha256.Size
)

// Domain-separation tags: every hash and signature in this package starts
// with one, so that bytes made for one purpose can never verify as another.
const (
	commitDomain  = "ipdm/verify/commit/v1"
	receiptDomain = "ipdm/verify/receipt/v1"
)

var (
	// ErrCommitmentMismatch reports a reveal that does not match the
	// executor's commitment.
	ErrCommitmentMismatch = errors.New("reveal does not match commitment")
	// ErrMalformedCommitment reports a commitment that is not CommitmentSize
	// bytes long.
	ErrMalformedCommitment = errors.New("malformed commitment")
	// ErrBadSalt reports a salt shorter than MinSaltSize or longer than
	// MaxSaltSize.
	ErrBadSalt = errors.New("bad salt")
	// ErrUndefinedResult reports a reveal of an undefined result CID.
	ErrUndefinedResult = errors.New("undefined result CID")
)

// NewSalt returns SaltSize random bytes read from r, or from crypto/rand
// when r is nil.
func NewSalt(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, SaltSize)
	if _, err := io.ReadFull(r, salt); err != nil {
		return nil, fmt.Errorf("verify: new salt: %w", err)
	}
	return salt, nil
}

// Commit returns the commitment an executor publishes before revealing its
// result: SHA-256 over the domain tag "ipdm/verify/commit/v1" followed by
// jobID, nodeID, the binary result CID and salt, each prefixed by its length
// as an unsigned varint. Binding the node and job IDs means a commitment
// cannot be copied from another executor or replayed from another job.
func Commit(resultCID cid.Cid, salt []byte, nodeID, jobID string) []byte {
	h := sha256.New()
	writeField(h, []byte(commitDomain))
	writeField(h, []byte(jobID))
	writeField(h, []byte(nodeID))
	writeField(h, resultCID.Bytes())
	writeField(h, salt)
	return h.Sum(nil)
}

// CheckReveal checks that (resultCID, salt) opens commitment for nodeID and
// jobID. Errors: ErrMalformedCommitment, ErrBadSalt, ErrUndefinedResult,
// ErrCommitmentMismatch.
func CheckReveal(commitment []byte, resultCID cid.Cid, salt []byte, nodeID, jobID string) error {
	if len(commitment) != CommitmentSize {
		return fmt.Errorf("verify: %w: %d bytes, want %d", ErrMalformedCommitment, len(commitment), CommitmentSize)
	}
	if len(salt) < MinSaltSize || len(salt) > MaxSaltSize {
		return fmt.Errorf("verify: %w: %d bytes, want %d..%d", ErrBadSalt, len(salt), MinSaltSize, MaxSaltSize)
	}
	if !resultCID.Defined() {
		return fmt.Errorf("verify: %w", ErrUndefinedResult)
	}
	if subtle.ConstantTimeCompare(commitment, Commit(resultCID, salt, nodeID, jobID)) != 1 {
		return fmt.Errorf("verify: %w", ErrCommitmentMismatch)
	}
	return nil
}

// writeField writes b prefixed by its length as an unsigned varint.
func writeField(w io.Writer, b []byte) {
	var n [binary.MaxVarintLen64]byte
	w.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	w.Write(b)
}
