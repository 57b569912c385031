package guest

import (
	"crypto/sha256"
	"testing"
)

func TestSHA256(t *testing.T) {
	for _, in := range []string{"", "abc", string(make([]byte, 1000))} {
		if got, want := SHA256([]byte(in)), sha256.Sum256([]byte(in)); got != want {
			t.Errorf("SHA256(%d bytes) = %x, want %x", len(in), got, want)
		}
	}
}
