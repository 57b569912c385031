package verify

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
)

// A libp2p peer ID of an Ed25519 key is the identity multihash of the key's
// protobuf encoding (libp2p crypto.pb PublicKey{Type: Ed25519, Data: key}),
// written in base58btc. Everything is fixed-size, so the 38 bytes are a
// constant 6-byte prefix followed by the 32 key bytes:
//
//	0x00 0x24            identity multihash, 36 bytes of digest
//	0x08 0x01            field 1 (KeyType), varint, Ed25519 = 1
//	0x12 0x20            field 2 (Data), bytes, length 32
//	<32 key bytes>
//
// Such IDs print as "12D3KooW…".
var ed25519PeerIDPrefix = []byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}

// MaxPeerIDLen bounds the length of a peer ID string accepted by
// PublicKeyFromPeerID.
const MaxPeerIDLen = 128

var (
	// ErrMalformedPeerID reports a string that is not base58btc or is too long.
	ErrMalformedPeerID = errors.New("malformed peer ID")
	// ErrUnsupportedPeerID reports a well-formed base58 string that is not an
	// identity-multihash Ed25519 peer ID (for example an RSA peer ID, which
	// hashes its key with SHA-256 and so does not carry it).
	ErrUnsupportedPeerID = errors.New("not an Ed25519 identity peer ID")
	// ErrBadPublicKey reports a public key that is not 32 bytes long.
	ErrBadPublicKey = errors.New("bad Ed25519 public key")
)

// PeerIDFromPublicKey returns the libp2p peer ID string of an Ed25519 public
// key, equal to what go-libp2p's peer.IDFromPublicKey(...).String() prints.
func PeerIDFromPublicKey(pub ed25519.PublicKey) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("verify: peer ID: %w: %d bytes", ErrBadPublicKey, len(pub))
	}
	b := make([]byte, 0, len(ed25519PeerIDPrefix)+ed25519.PublicKeySize)
	b = append(b, ed25519PeerIDPrefix...)
	b = append(b, pub...)
	return base58Encode(b), nil
}

// PublicKeyFromPeerID extracts the Ed25519 public key an identity peer ID
// carries. Errors: ErrMalformedPeerID, ErrUnsupportedPeerID.
func PublicKeyFromPeerID(id string) (ed25519.PublicKey, error) {
	if len(id) > MaxPeerIDLen {
		return nil, fmt.Errorf("verify: peer ID: %w: %d characters", ErrMalformedPeerID, len(id))
	}
	b, err := base58Decode(id)
	if err != nil {
		return nil, fmt.Errorf("verify: peer ID %q: %w", id, err)
	}
	if len(b) != len(ed25519PeerIDPrefix)+ed25519.PublicKeySize || !bytes.HasPrefix(b, ed25519PeerIDPrefix) {
		return nil, fmt.Errorf("verify: peer ID %q: %w", id, ErrUnsupportedPeerID)
	}
	return ed25519.PublicKey(bytes.Clone(b[len(ed25519PeerIDPrefix):])), nil
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var base58Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base58Alphabet); i++ {
		t[base58Alphabet[i]] = int8(i)
	}
	return t
}()

// base58Encode encodes b in base58btc (Bitcoin alphabet); each leading zero
// byte becomes a leading '1'.
func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	n := new(big.Int).SetBytes(b)
	radix, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for i := 0; i < zeros; i++ {
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// base58Decode is the inverse of base58Encode.
func base58Decode(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrMalformedPeerID)
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	n, radix := new(big.Int), big.NewInt(58)
	for i := 0; i < len(s); i++ {
		d := base58Index[s[i]]
		if d < 0 {
			return nil, fmt.Errorf("%w: invalid base58 character %q", ErrMalformedPeerID, s[i])
		}
		n.Mul(n, radix)
		n.Add(n, big.NewInt(int64(d)))
	}
	return append(make([]byte, zeros), n.Bytes()...), nil
}
