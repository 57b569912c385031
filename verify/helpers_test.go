package verify

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func testCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// testKey returns a deterministic Ed25519 key named name.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("verify test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testPeerID(t testing.TB, name string) string {
	t.Helper()
	id, err := PeerIDFromPublicKey(testKey(name).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return id
}
