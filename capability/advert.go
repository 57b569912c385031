package capability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// Roles a peer can play. An advert lists each role at most once.
const (
	// RoleProcessing marks a peer that runs jobs.
	RoleProcessing = "processing"
	// RoleStorage marks a peer that stores and serves blocks.
	RoleStorage = "storage"
	// RoleGateway marks a peer that serves the HTTP gateway.
	RoleGateway = "gateway"
)

// FormatVersion is the wire format version written by [Advert.Encode] and the
// only one [Decode] accepts.
const FormatVersion = 1

// Limits enforced by [Advert.Validate], [Advert.Encode] and [Decode].
const (
	// MaxEncodedSize is the largest encoded advert accepted, in bytes.
	MaxEncodedSize = 8 << 10
	// MaxPeerIDLen bounds the length of Advert.PeerID.
	MaxPeerIDLen = 128
	// MaxCores bounds Advert.Cores.
	MaxCores = 1 << 16
	// MaxMemoryBytes bounds Advert.MemoryBytes (4 PiB).
	MaxMemoryBytes = uint64(1) << 52
	// MaxFreeDiskBytes bounds Advert.FreeDiskBytes (4 EiB).
	MaxFreeDiskBytes = uint64(1) << 62
	// MaxVersionLen bounds the length of Advert.Version in bytes.
	MaxVersionLen = 64
	// MaxAddrs bounds the number of Advert.Addrs.
	MaxAddrs = 16
	// MaxAddrLen bounds the length of each entry of Advert.Addrs in bytes.
	MaxAddrLen = 256
)

var (
	// ErrInvalidAdvert is wrapped by every error reporting a malformed advert.
	ErrInvalidAdvert = errors.New("invalid capability advert")
	// ErrUnsupportedVersion is wrapped when an encoded advert carries a
	// format version this build cannot read.
	ErrUnsupportedVersion = errors.New("unsupported capability advert version")
)

// Advert is what a peer announces about itself. The zero value is not
// valid: PeerID is required.
type Advert struct {
	// PeerID is the base58 libp2p peer ID of the advertising peer.
	PeerID string
	// Roles lists the roles the peer plays (RoleProcessing, RoleStorage,
	// RoleGateway), each at most once. Empty means a plain peer.
	Roles []string
	// Cores is the number of CPU cores the peer offers (0 = unknown).
	Cores int
	// MemoryBytes is the memory the peer offers (0 = unknown).
	MemoryBytes uint64
	// FreeDiskBytes is the free space in the peer's block store (0 = unknown).
	FreeDiskBytes uint64
	// Version is the peer's software version, free text of at most
	// MaxVersionLen printable characters.
	Version string
	// Addrs are multiaddrs the peer listens on (without /p2p suffix or with
	// it), at most MaxAddrs entries.
	Addrs []string
	// Seq increases with every advert a peer issues. An index ignores an
	// advert older than the one it holds for the same peer.
	Seq uint64
}

// HasRole reports whether the advert lists role.
func (a Advert) HasRole(role string) bool {
	for _, r := range a.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of a.
func (a Advert) Clone() Advert {
	a.Roles = cloneStrings(a.Roles)
	a.Addrs = cloneStrings(a.Addrs)
	return a
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

// Validate checks a against the limits of the wire format. The returned
// error wraps ErrInvalidAdvert.
func (a Advert) Validate() error {
	if err := validatePeerID(a.PeerID); err != nil {
		return err
	}
	if err := validateRoles(a.Roles); err != nil {
		return err
	}
	if a.Cores < 0 {
		return invalidf("cores %d is negative", a.Cores)
	}
	if a.Cores > MaxCores {
		return invalidf("cores %d exceeds limit %d", a.Cores, MaxCores)
	}
	if a.MemoryBytes > MaxMemoryBytes {
		return invalidf("memory %d bytes exceeds limit %d", a.MemoryBytes, MaxMemoryBytes)
	}
	if a.FreeDiskBytes > MaxFreeDiskBytes {
		return invalidf("free disk %d bytes exceeds limit %d", a.FreeDiskBytes, MaxFreeDiskBytes)
	}
	if err := validateVersion(a.Version); err != nil {
		return err
	}
	return validateAddrs(a.Addrs)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidAdvert, fmt.Sprintf(format, args...))
}

func validatePeerID(id string) error {
	if id == "" {
		return invalidf("peer id is empty")
	}
	if len(id) > MaxPeerIDLen {
		return invalidf("peer id is %d bytes, limit %d", len(id), MaxPeerIDLen)
	}
	if _, err := mh.FromB58String(id); err != nil {
		return invalidf("peer id %q is not a base58 multihash: %v", id, err)
	}
	return nil
}

func validateRoles(roles []string) error {
	seen := make(map[string]bool, len(roles))
	for _, r := range roles {
		switch r {
		case RoleProcessing, RoleStorage, RoleGateway:
		default:
			return invalidf("unknown role %q (want %s, %s or %s)", truncate(r), RoleProcessing, RoleStorage, RoleGateway)
		}
		if seen[r] {
			return invalidf("role %q listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

func validateVersion(v string) error {
	if len(v) > MaxVersionLen {
		return invalidf("version is %d bytes, limit %d", len(v), MaxVersionLen)
	}
	if !utf8.ValidString(v) {
		return invalidf("version is not valid UTF-8")
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return invalidf("version contains non-printable character %U", r)
		}
	}
	return nil
}

func validateAddrs(addrs []string) error {
	if len(addrs) > MaxAddrs {
		return invalidf("%d addrs, limit %d", len(addrs), MaxAddrs)
	}
	for _, s := range addrs {
		if len(s) > MaxAddrLen {
			return invalidf("addr is %d bytes, limit %d", len(s), MaxAddrLen)
		}
		if _, err := ma.NewMultiaddr(s); err != nil {
			return invalidf("addr %q is not a multiaddr: %v", truncate(s), err)
		}
	}
	return nil
}

// truncate shortens untrusted strings before they go into error messages.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// wireV1 is the JSON layout of format version 1. Numbers are kept raw so
// that strings, negative, fractional and out-of-range values get precise
// errors instead of encoding/json's generic ones.
type wireV1 struct {
	V             json.RawMessage `json:"v"`
	PeerID        string          `json:"peer"`
	Roles         []string        `json:"roles,omitempty"`
	Cores         json.RawMessage `json:"cores,omitempty"`
	MemoryBytes   json.RawMessage `json:"mem,omitempty"`
	FreeDiskBytes json.RawMessage `json:"disk,omitempty"`
	Version       string          `json:"version,omitempty"`
	Addrs         []string        `json:"addrs,omitempty"`
	Seq           json.RawMessage `json:"seq"`
}

// Encode validates a and returns its wire form (format version
// FormatVersion).
func (a Advert) Encode() ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("capability: encode: %w", err)
	}
	w := wireV1{
		V:       json.RawMessage(strconv.Itoa(FormatVersion)),
		PeerID:  a.PeerID,
		Roles:   a.Roles,
		Version: a.Version,
		Addrs:   a.Addrs,
		Seq:     json.RawMessage(strconv.FormatUint(a.Seq, 10)),
	}
	if a.Cores != 0 {
		w.Cores = json.RawMessage(strconv.Itoa(a.Cores))
	}
	if a.MemoryBytes != 0 {
		w.MemoryBytes = json.RawMessage(strconv.FormatUint(a.MemoryBytes, 10))
	}
	if a.FreeDiskBytes != 0 {
		w.FreeDiskBytes = json.RawMessage(strconv.FormatUint(a.FreeDiskBytes, 10))
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("capability: encode: %w", err)
	}
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("capability: encode: %w", invalidf("encoded size %d exceeds limit %d", len(b), MaxEncodedSize))
	}
	return b, nil
}

// Decode parses and validates an encoded advert. Errors wrap
// ErrInvalidAdvert or ErrUnsupportedVersion.
func Decode(b []byte) (Advert, error) {
	a, err := decode(b)
	if err != nil {
		return Advert{}, fmt.Errorf("capability: decode: %w", err)
	}
	return a, nil
}

func decode(b []byte) (Advert, error) {
	if len(b) > MaxEncodedSize {
		return Advert{}, invalidf("size %d exceeds limit %d", len(b), MaxEncodedSize)
	}
	// Read the version first, leniently, so that a newer format is reported
	// as such rather than as a pile of unknown fields.
	var head struct {
		V json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Advert{}, invalidf("not a JSON object: %v", err)
	}
	if len(head.V) == 0 {
		return Advert{}, invalidf("missing format version \"v\"")
	}
	v, err := parseUint("v", head.V, 1<<31)
	if err != nil {
		return Advert{}, err
	}
	if v != FormatVersion {
		return Advert{}, fmt.Errorf("%w: version %d (this build reads %d)", ErrUnsupportedVersion, v, FormatVersion)
	}

	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireV1
	if err := dec.Decode(&w); err != nil {
		return Advert{}, invalidf("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Advert{}, invalidf("trailing data after advert")
	}
	if len(w.Seq) == 0 {
		return Advert{}, invalidf("missing field \"seq\"")
	}

	a := Advert{
		PeerID:  w.PeerID,
		Roles:   w.Roles,
		Version: w.Version,
		Addrs:   w.Addrs,
	}
	cores, err := parseUint("cores", w.Cores, MaxCores)
	if err != nil {
		return Advert{}, err
	}
	a.Cores = int(cores)
	if a.MemoryBytes, err = parseUint("mem", w.MemoryBytes, MaxMemoryBytes); err != nil {
		return Advert{}, err
	}
	if a.FreeDiskBytes, err = parseUint("disk", w.FreeDiskBytes, MaxFreeDiskBytes); err != nil {
		return Advert{}, err
	}
	if a.Seq, err = parseUint("seq", w.Seq, ^uint64(0)); err != nil {
		return Advert{}, err
	}
	if err := a.Validate(); err != nil {
		return Advert{}, err
	}
	return a, nil
}

// parseUint parses a raw JSON value that must be a bare integer number in
// [0, max]. An absent value is zero.
func parseUint(field string, raw json.RawMessage, max uint64) (uint64, error) {
	s := string(raw)
	if s == "" {
		return 0, nil
	}
	if s[0] != '-' && (s[0] < '0' || s[0] > '9') {
		return 0, invalidf("%s must be a JSON number, got %s", field, truncate(s))
	}
	if strings.HasPrefix(s, "-") {
		return 0, invalidf("%s %s is negative", field, truncate(s))
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange) {
			return 0, invalidf("%s %s exceeds limit %d", field, truncate(s), max)
		}
		return 0, invalidf("%s %s is not a non-negative integer", field, truncate(s))
	}
	if u > max {
		return 0, invalidf("%s %d exceeds limit %d", field, u, max)
	}
	return u, nil
}
