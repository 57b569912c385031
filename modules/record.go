package modules

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/verify"
)

// MaxRecordSize bounds an encoded record.
const MaxRecordSize = 4 << 10

// Errors.
var (
	// ErrInvalid is wrapped by every syntax, size or signature problem.
	ErrInvalid = errors.New("invalid module record")
	// ErrNotFound means no record is known for a name@version.
	ErrNotFound = errors.New("module not found")
	// ErrConflict means name@version is already bound to another CID.
	ErrConflict = errors.New("module version already published with another CID")
	// ErrNotOwner means the name belongs to another publisher.
	ErrNotOwner = errors.New("module name belongs to another publisher")
)

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	versionRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$`)
)

// Record binds Name@Version to the module bytes' CID.
type Record struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	CID     string `json:"cid"`
	// Size is the module's length in bytes.
	Size int64 `json:"size"`
	// Publisher is the libp2p peer ID of the signing node; PublicKey its
	// Ed25519 key (the peer ID is derived from it, so they must match).
	Publisher string `json:"publisher"`
	PublicKey []byte `json:"public_key"`
	// Published is when the publisher says it signed, Unix seconds
	// (informational; never used to order records).
	Published int64  `json:"published"`
	Signature []byte `json:"signature"`
}

// Ref is "name@version".
func (r Record) Ref() string { return r.Name + "@" + r.Version }

// ParseRef splits "name@version" and checks both parts.
func ParseRef(ref string) (name, version string, err error) {
	name, version, ok := strings.Cut(ref, "@")
	if !ok {
		return "", "", fmt.Errorf("%w: %q is not name@version", ErrInvalid, ref)
	}
	if err := checkNameVersion(name, version); err != nil {
		return "", "", err
	}
	return name, version, nil
}

func checkNameVersion(name, version string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("%w: name %q: want lowercase letters, digits, '.', '_' or '-', at most 64", ErrInvalid, name)
	}
	if !versionRe.MatchString(version) {
		return fmt.Errorf("%w: version %q: want letters, digits, '.', '+' or '-', at most 32", ErrInvalid, version)
	}
	return nil
}

// signedBytes is the domain-separated, length-prefixed encoding the
// signature covers.
func (r Record) signedBytes() []byte {
	var b bytes.Buffer
	b.WriteString("ipdm module record v1\n")
	for _, f := range []string{r.Name, r.Version, r.CID, r.Publisher} {
		binary.Write(&b, binary.BigEndian, uint32(len(f)))
		b.WriteString(f)
	}
	binary.Write(&b, binary.BigEndian, r.Size)
	binary.Write(&b, binary.BigEndian, r.Published)
	binary.Write(&b, binary.BigEndian, uint32(len(r.PublicKey)))
	b.Write(r.PublicKey)
	return b.Bytes()
}

// Sign fills in the publisher fields from priv and signs r.
func Sign(r Record, priv ed25519.PrivateKey) (Record, error) {
	pub := priv.Public().(ed25519.PublicKey)
	id, err := verify.PeerIDFromPublicKey(pub)
	if err != nil {
		return Record{}, err
	}
	r.Publisher, r.PublicKey, r.Signature = id, append([]byte(nil), pub...), nil
	if err := r.checkFields(); err != nil {
		return Record{}, err
	}
	r.Signature = ed25519.Sign(priv, r.signedBytes())
	return r, nil
}

func (r Record) checkFields() error {
	if err := checkNameVersion(r.Name, r.Version); err != nil {
		return err
	}
	c, err := cid.Decode(r.CID)
	if err != nil {
		return fmt.Errorf("%w: cid %q: %v", ErrInvalid, r.CID, err)
	}
	if c.String() != r.CID {
		return fmt.Errorf("%w: cid %q is not in canonical form (%s)", ErrInvalid, r.CID, c)
	}
	if r.Size <= 0 {
		return fmt.Errorf("%w: size %d", ErrInvalid, r.Size)
	}
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key of %d bytes", ErrInvalid, len(r.PublicKey))
	}
	id, err := verify.PeerIDFromPublicKey(ed25519.PublicKey(r.PublicKey))
	if err != nil || id != r.Publisher {
		return fmt.Errorf("%w: publisher %q does not match the public key", ErrInvalid, r.Publisher)
	}
	return nil
}

// Verify checks syntax, that the public key is the publisher's, and the
// signature.
func (r Record) Verify() error {
	if err := r.checkFields(); err != nil {
		return err
	}
	if !ed25519.Verify(ed25519.PublicKey(r.PublicKey), r.signedBytes(), r.Signature) {
		return fmt.Errorf("%w: bad signature on %s", ErrInvalid, r.Ref())
	}
	return nil
}

// Encode is the wire and storage form of a record.
func (r Record) Encode() ([]byte, error) { return json.Marshal(r) }

// Decode parses and verifies a record from the wire.
func Decode(data []byte) (Record, error) {
	if len(data) > MaxRecordSize {
		return Record{}, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalid, len(data), MaxRecordSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	if err := r.Verify(); err != nil {
		return Record{}, err
	}
	return r, nil
}
