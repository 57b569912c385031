package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Test vector produced with go-libp2p v0.51.0: the Ed25519 key whose seed is
// the bytes 0x00..0x1f, and peer.IDFromPublicKey(key).String().
const (
	vectorPublicKey = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
	vectorPeerID    = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"
)

func TestPeerIDVector(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if hex.EncodeToString(pub) != vectorPublicKey {
		t.Fatalf("public key %x, want %s", pub, vectorPublicKey)
	}
	id, err := PeerIDFromPublicKey(pub)
	if err != nil || id != vectorPeerID {
		t.Fatalf("PeerIDFromPublicKey = %s, %v; want %s", id, err, vectorPeerID)
	}
	back, err := PublicKeyFromPeerID(vectorPeerID)
	if err != nil || !bytes.Equal(back, pub) {
		t.Fatalf("PublicKeyFromPeerID = %x, %v; want %x", back, err, pub)
	}
}

// Cross-check against go-libp2p on random keys, both directions.
func TestPeerIDMatchesLibp2p(t *testing.T) {
	for i := 0; i < 200; i++ {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		lpub, err := lcrypto.UnmarshalEd25519PublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		want, err := peer.IDFromPublicKey(lpub)
		if err != nil {
			t.Fatal(err)
		}
		got, err := PeerIDFromPublicKey(pub)
		if err != nil || got != want.String() {
			t.Fatalf("PeerIDFromPublicKey = %s, %v; libp2p says %s", got, err, want)
		}
		parsed, err := peer.Decode(got)
		if err != nil || parsed != want {
			t.Fatalf("libp2p cannot decode %s: %v", got, err)
		}
		extracted, err := want.ExtractPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := extracted.Raw()
		back, err := PublicKeyFromPeerID(want.String())
		if err != nil || !bytes.Equal(back, raw) {
			t.Fatalf("PublicKeyFromPeerID(%s) = %x, %v; libp2p extracts %x", want, back, err, raw)
		}
	}
}

func TestPublicKeyFromPeerIDRejects(t *testing.T) {
	// Peer IDs of other key types, made by go-libp2p.
	_, rsaPub, err := lcrypto.GenerateKeyPairWithReader(lcrypto.RSA, 2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaID, _ := peer.IDFromPublicKey(rsaPub)
	_, secpPub, err := lcrypto.GenerateKeyPairWithReader(lcrypto.Secp256k1, 0, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secpID, _ := peer.IDFromPublicKey(secpPub)

	// An identity multihash of 38 bytes with another key type in the protobuf.
	raw, _ := base58Decode(vectorPeerID)
	wrongType := bytes.Clone(raw)
	wrongType[3] = 2
	cases := []struct {
		name, id string
		want     error
	}{
		{"rsa", rsaID.String(), ErrUnsupportedPeerID},
		{"secp256k1", secpID.String(), ErrUnsupportedPeerID},
		{"other key type", base58Encode(wrongType), ErrUnsupportedPeerID},
		{"truncated", base58Encode(raw[:37]), ErrUnsupportedPeerID},
		{"extended", base58Encode(append(bytes.Clone(raw), 0)), ErrUnsupportedPeerID},
		{"empty", "", ErrMalformedPeerID},
		{"zero letter", "12D3KooW0", ErrMalformedPeerID},
		{"capital I", "12D3KooWI", ErrMalformedPeerID},
		{"space", " " + vectorPeerID, ErrMalformedPeerID},
		{"too long", strings.Repeat("z", MaxPeerIDLen+1), ErrMalformedPeerID},
		{"CIDv1 form", "k51qzi5uqu5dgutdk6i1ynyzgkqngpha5xpgia3a5qqp4jsh0u4csozksxel3r", ErrMalformedPeerID},
	}
	for _, tc := range cases {
		if _, err := PublicKeyFromPeerID(tc.id); !errors.Is(err, tc.want) {
			t.Errorf("%s: PublicKeyFromPeerID(%q) = %v, want %v", tc.name, tc.id, err, tc.want)
		}
	}
	if _, err := PeerIDFromPublicKey(make([]byte, 31)); !errors.Is(err, ErrBadPublicKey) {
		t.Errorf("PeerIDFromPublicKey(31 bytes) = %v", err)
	}
}

func TestBase58(t *testing.T) {
	cases := []struct {
		raw []byte
		enc string
	}{
		{nil, ""},
		{[]byte{0}, "1"},
		{[]byte{0, 0, 1}, "112"},
		{[]byte{57}, "z"},
		{[]byte{58}, "21"},
		{[]byte("hello world"), "StV1DL6CwTryKyV"}, // the draft-msporny-base58 example
	}
	for _, tc := range cases {
		if got := base58Encode(tc.raw); got != tc.enc {
			t.Errorf("base58Encode(%x) = %q, want %q", tc.raw, got, tc.enc)
		}
		if tc.enc == "" {
			continue
		}
		back, err := base58Decode(tc.enc)
		if err != nil || !bytes.Equal(back, tc.raw) {
			t.Errorf("base58Decode(%q) = %x, %v; want %x", tc.enc, back, err, tc.raw)
		}
	}
}

func FuzzPublicKeyFromPeerID(f *testing.F) {
	f.Add(vectorPeerID)
	f.Add("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
	f.Add("1111")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		pub, err := PublicKeyFromPeerID(id)
		if err != nil {
			return
		}
		// Anything accepted names exactly the key it carries.
		back, err := PeerIDFromPublicKey(pub)
		if err != nil || back != id {
			t.Fatalf("PeerIDFromPublicKey(PublicKeyFromPeerID(%q)) = %q, %v", id, back, err)
		}
	})
}
