package verify

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

func TestCommitReveal(t *testing.T) {
	res := testCID(t, "result")
	salt := bytes.Repeat([]byte{7}, SaltSize)
	node, job := testPeerID(t, "a"), "job-1"
	c := Commit(res, salt, node, job)
	if len(c) != CommitmentSize {
		t.Fatalf("commitment is %d bytes", len(c))
	}
	if !bytes.Equal(c, Commit(res, salt, node, job)) {
		t.Fatal("Commit is not deterministic")
	}
	if err := CheckReveal(c, res, salt, node, job); err != nil {
		t.Fatalf("CheckReveal: %v", err)
	}
	cases := []struct {
		name       string
		commitment []byte
		result     cid.Cid
		salt       []byte
		node, job  string
		want       error
	}{
		{"other result", c, testCID(t, "other"), salt, node, job, ErrCommitmentMismatch},
		{"other salt", c, res, bytes.Repeat([]byte{8}, SaltSize), node, job, ErrCommitmentMismatch},
		{"other node", c, res, salt, testPeerID(t, "b"), job, ErrCommitmentMismatch},
		{"other job", c, res, salt, node, "job-2", ErrCommitmentMismatch},
		{"flipped bit", append([]byte{c[0] ^ 1}, c[1:]...), res, salt, node, job, ErrCommitmentMismatch},
		{"short commitment", c[:31], res, salt, node, job, ErrMalformedCommitment},
		{"no commitment", nil, res, salt, node, job, ErrMalformedCommitment},
		{"short salt", Commit(res, salt[:MinSaltSize-1], node, job), res, salt[:MinSaltSize-1], node, job, ErrBadSalt},
		{"long salt", Commit(res, make([]byte, MaxSaltSize+1), node, job), res, make([]byte, MaxSaltSize+1), node, job, ErrBadSalt},
		{"undefined result", Commit(cid.Undef, salt, node, job), cid.Undef, salt, node, job, ErrUndefinedResult},
	}
	for _, tc := range cases {
		err := CheckReveal(tc.commitment, tc.result, tc.salt, tc.node, tc.job)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: CheckReveal = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Salts of the bounding sizes are accepted.
	for _, n := range []int{MinSaltSize, MaxSaltSize} {
		s := make([]byte, n)
		if err := CheckReveal(Commit(res, s, node, job), res, s, node, job); err != nil {
			t.Errorf("salt of %d bytes: %v", n, err)
		}
	}
}

// Length prefixes keep field boundaries: moving bytes from one field to the
// next changes the commitment.
func TestCommitFieldBoundaries(t *testing.T) {
	res := testCID(t, "r")
	salt := make([]byte, SaltSize)
	pairs := [][2][2]string{
		{{"ab", "c"}, {"a", "bc"}},
		{{"", "abc"}, {"abc", ""}},
	}
	for _, p := range pairs {
		c1 := Commit(res, salt, p[0][0], p[0][1])
		c2 := Commit(res, salt, p[1][0], p[1][1])
		if bytes.Equal(c1, c2) {
			t.Errorf("node/job %q and %q commit alike", p[0], p[1])
		}
	}
}

func TestNewSalt(t *testing.T) {
	s, err := NewSalt(bytes.NewReader(bytes.Repeat([]byte{1}, 100)))
	if err != nil || len(s) != SaltSize || s[0] != 1 {
		t.Fatalf("NewSalt(reader) = %x, %v", s, err)
	}
	if _, err := NewSalt(strings.NewReader("short")); err == nil {
		t.Fatal("NewSalt from a short reader succeeded")
	}
	a, err1 := NewSalt(nil)
	b, err2 := NewSalt(nil)
	if err1 != nil || err2 != nil || len(a) != SaltSize || bytes.Equal(a, b) {
		t.Fatalf("NewSalt(nil) = %x, %x, %v, %v", a, b, err1, err2)
	}
}
