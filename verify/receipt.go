package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// Receipt limits.
const (
	// ReceiptVersion is the JSON format version written by Receipt.Encode
	// and the only one DecodeReceipt reads.
	ReceiptVersion = 1
	// MaxReceiptSize bounds an encoded receipt, in bytes.
	MaxReceiptSize = 256 << 10
	// MaxJobIDLen bounds Receipt.JobID, in bytes.
	MaxJobIDLen = 256
	// MaxReceiptInputs bounds Receipt.InputCIDs.
	MaxReceiptInputs = 1024
	// MaxErrorLen bounds Receipt.Error, in bytes.
	MaxErrorLen = 1024
)

var (
	// ErrInvalidReceipt reports a malformed receipt.
	ErrInvalidReceipt = errors.New("invalid receipt")
	// ErrBadSignature reports a receipt whose signature is missing or does
	// not verify.
	ErrBadSignature = errors.New("bad receipt signature")
	// ErrKeyMismatch reports a receipt whose public key is not the key of
	// its NodeID, or a signing key that is not the key of NodeID.
	ErrKeyMismatch = errors.New("public key does not match node ID")
)

// Receipt is an executor's signed statement of what it ran and what came
// out. A receipt is bound to its node: the public key must be the one the
// node's Ed25519 peer ID is derived from.
type Receipt struct {
	// JobID identifies the job (1..MaxJobIDLen bytes of UTF-8).
	JobID string
	// ModuleCID is the module that ran. Required.
	ModuleCID cid.Cid
	// InputCIDs are the inputs, in the job's order (at most MaxReceiptInputs).
	InputCIDs []cid.Cid
	// ResultCID is the result. Undefined when the execution produced none
	// (see Error).
	ResultCID cid.Cid
	// FuelUsed is the fuel the execution consumed.
	FuelUsed uint64
	// ExitCode is the module's WASI exit code.
	ExitCode uint32
	// Error describes a job error (trap, out of fuel) when the execution
	// ended with one; empty otherwise. At most MaxErrorLen bytes of UTF-8.
	Error string
	// NodeID is the executor's libp2p peer ID (an Ed25519 identity peer ID).
	NodeID string
	// PublicKey is the executor's Ed25519 public key; set by Sign.
	PublicKey ed25519.PublicKey
	// Time is when the execution finished; optional (zero = absent). Only
	// the instant is signed, not the location.
	Time time.Time
	// Signature is the Ed25519 signature over SigningBytes; set by Sign.
	Signature []byte
}

// validateContent checks every field except PublicKey and Signature.
func (r Receipt) validateContent() error {
	switch {
	case r.JobID == "" || len(r.JobID) > MaxJobIDLen || !utf8.ValidString(r.JobID):
		return fmt.Errorf("%w: job ID must be 1-%d bytes of UTF-8", ErrInvalidReceipt, MaxJobIDLen)
	case !r.ModuleCID.Defined():
		return fmt.Errorf("%w: module CID is required", ErrInvalidReceipt)
	case len(r.InputCIDs) > MaxReceiptInputs:
		return fmt.Errorf("%w: %d inputs exceed the limit of %d", ErrInvalidReceipt, len(r.InputCIDs), MaxReceiptInputs)
	case len(r.Error) > MaxErrorLen || !utf8.ValidString(r.Error):
		return fmt.Errorf("%w: error must be at most %d bytes of UTF-8", ErrInvalidReceipt, MaxErrorLen)
	case r.NodeID == "" || len(r.NodeID) > MaxPeerIDLen:
		return fmt.Errorf("%w: node ID must be 1-%d bytes", ErrInvalidReceipt, MaxPeerIDLen)
	}
	for i, c := range r.InputCIDs {
		if !c.Defined() {
			return fmt.Errorf("%w: input %d is undefined", ErrInvalidReceipt, i)
		}
	}
	if !r.Time.IsZero() {
		if y := r.Time.UTC().Year(); y < 1 || y > 9999 {
			return fmt.Errorf("%w: time %v is outside years 1..9999", ErrInvalidReceipt, r.Time)
		}
	}
	return nil
}

// SigningBytes returns the canonical binary encoding that Sign signs: the
// domain tag "ipdm/verify/receipt/v1" and every field but Signature, in
// declaration order. Variable-size fields are prefixed by their length as an
// unsigned varint, CIDs are in binary form (empty when undefined), integers
// are big-endian and fixed-size, and Time is a presence byte followed, when
// present, by Unix seconds (int64) and nanoseconds (uint32).
func (r Receipt) SigningBytes() []byte {
	var b bytes.Buffer
	writeField(&b, []byte(receiptDomain))
	writeField(&b, []byte(r.JobID))
	writeField(&b, r.ModuleCID.Bytes())
	var n [binary.MaxVarintLen64]byte
	b.Write(n[:binary.PutUvarint(n[:], uint64(len(r.InputCIDs)))])
	for _, c := range r.InputCIDs {
		writeField(&b, c.Bytes())
	}
	writeField(&b, r.ResultCID.Bytes())
	b.Write(binary.BigEndian.AppendUint64(nil, r.FuelUsed))
	b.Write(binary.BigEndian.AppendUint32(nil, r.ExitCode))
	writeField(&b, []byte(r.Error))
	writeField(&b, []byte(r.NodeID))
	writeField(&b, r.PublicKey)
	if r.Time.IsZero() {
		b.WriteByte(0)
	} else {
		b.WriteByte(1)
		b.Write(binary.BigEndian.AppendUint64(nil, uint64(r.Time.Unix())))
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(r.Time.Nanosecond())))
	}
	return b.Bytes()
}

// Sign returns r signed with priv: PublicKey is set to priv's public key,
// NodeID to its peer ID when empty, and Signature over SigningBytes. It
// fails with ErrKeyMismatch when NodeID is set to another node, and with
// ErrInvalidReceipt when r is malformed.
func Sign(r Receipt, priv ed25519.PrivateKey) (Receipt, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Receipt{}, fmt.Errorf("verify: sign: private key of %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pub := priv.Public().(ed25519.PublicKey)
	id, err := PeerIDFromPublicKey(pub)
	if err != nil {
		return Receipt{}, fmt.Errorf("verify: sign: %w", err)
	}
	if r.NodeID == "" {
		r.NodeID = id
	} else if r.NodeID != id {
		return Receipt{}, fmt.Errorf("verify: sign: %w: key is %s's, receipt names %s", ErrKeyMismatch, id, r.NodeID)
	}
	r.PublicKey = bytes.Clone(pub)
	r.InputCIDs = append([]cid.Cid(nil), r.InputCIDs...)
	if err := r.validateContent(); err != nil {
		return Receipt{}, fmt.Errorf("verify: sign: %w", err)
	}
	r.Signature = ed25519.Sign(priv, r.SigningBytes())
	return r, nil
}

// Verify checks that r is well formed, that PublicKey is the key NodeID is
// derived from, and that Signature is PublicKey's signature over
// SigningBytes. Errors wrap ErrInvalidReceipt, ErrKeyMismatch or
// ErrBadSignature. Verify says nothing about whether the result is correct;
// that is what the quorum is for.
func Verify(r Receipt) error {
	if err := r.validateContent(); err != nil {
		return fmt.Errorf("verify: receipt: %w", err)
	}
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("verify: receipt: %w: %w", ErrInvalidReceipt, ErrBadPublicKey)
	}
	id, err := PeerIDFromPublicKey(r.PublicKey)
	if err != nil {
		return fmt.Errorf("verify: receipt: %w", err)
	}
	if id != r.NodeID {
		return fmt.Errorf("verify: receipt: %w: key is %s's, receipt names %s", ErrKeyMismatch, id, r.NodeID)
	}
	if len(r.Signature) != ed25519.SignatureSize || !ed25519.Verify(r.PublicKey, r.SigningBytes(), r.Signature) {
		return fmt.Errorf("verify: receipt from %s: %w", r.NodeID, ErrBadSignature)
	}
	return nil
}

// wireReceipt is the JSON layout of format version 1. Numbers are kept raw
// so that they can be parsed strictly.
type wireReceipt struct {
	V         json.RawMessage `json:"v"`
	JobID     string          `json:"job_id"`
	ModuleCID string          `json:"module_cid"`
	InputCIDs []string        `json:"input_cids,omitempty"`
	ResultCID string          `json:"result_cid,omitempty"`
	FuelUsed  json.RawMessage `json:"fuel_used"`
	ExitCode  json.RawMessage `json:"exit_code"`
	Error     string          `json:"error,omitempty"`
	NodeID    string          `json:"node_id"`
	PublicKey string          `json:"public_key,omitempty"`
	Time      string          `json:"time,omitempty"`
	Signature string          `json:"signature,omitempty"`
}

// Encode returns r as JSON (format version ReceiptVersion): CIDs as strings,
// the key and signature in standard base64, Time in RFC 3339 UTC with
// nanoseconds. The output is deterministic. The signature does not cover the
// JSON but SigningBytes, so any faithful re-encoding still verifies. Encode
// fails with ErrInvalidReceipt on a malformed receipt; it does not require a
// signature.
func (r Receipt) Encode() ([]byte, error) {
	if err := r.validateContent(); err != nil {
		return nil, fmt.Errorf("verify: encode receipt: %w", err)
	}
	if len(r.PublicKey) != 0 && len(r.PublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("verify: encode receipt: %w: %w", ErrInvalidReceipt, ErrBadPublicKey)
	}
	w := wireReceipt{
		V:         json.RawMessage(strconv.Itoa(ReceiptVersion)),
		JobID:     r.JobID,
		ModuleCID: r.ModuleCID.String(),
		FuelUsed:  json.RawMessage(strconv.FormatUint(r.FuelUsed, 10)),
		ExitCode:  json.RawMessage(strconv.FormatUint(uint64(r.ExitCode), 10)),
		Error:     r.Error,
		NodeID:    r.NodeID,
	}
	for _, c := range r.InputCIDs {
		w.InputCIDs = append(w.InputCIDs, c.String())
	}
	if r.ResultCID.Defined() {
		w.ResultCID = r.ResultCID.String()
	}
	if len(r.PublicKey) > 0 {
		w.PublicKey = base64.StdEncoding.EncodeToString(r.PublicKey)
	}
	if !r.Time.IsZero() {
		w.Time = r.Time.UTC().Format(time.RFC3339Nano)
	}
	if len(r.Signature) > 0 {
		w.Signature = base64.StdEncoding.EncodeToString(r.Signature)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("verify: encode receipt: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeReceipt parses a receipt encoded by Encode. Decoding is strict:
// unknown fields, other format versions, malformed CIDs, numbers, base64 or
// times, a key that is not 32 bytes, a signature that is not 64 bytes and
// trailing data are rejected with ErrInvalidReceipt. DecodeReceipt does not
// check the signature: call Verify.
func DecodeReceipt(b []byte) (Receipt, error) {
	r, err := decodeReceipt(b)
	if err != nil {
		return Receipt{}, fmt.Errorf("verify: decode receipt: %w", err)
	}
	return r, nil
}

func decodeReceipt(b []byte) (Receipt, error) {
	if len(b) > MaxReceiptSize {
		return Receipt{}, fmt.Errorf("%w: %d bytes exceed the limit of %d", ErrInvalidReceipt, len(b), MaxReceiptSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireReceipt
	if err := dec.Decode(&w); err != nil {
		return Receipt{}, fmt.Errorf("%w: %v", ErrInvalidReceipt, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Receipt{}, fmt.Errorf("%w: trailing data", ErrInvalidReceipt)
	}
	v, err := parseUintField("v", w.V, 1<<31, true)
	if err != nil {
		return Receipt{}, err
	}
	if v != ReceiptVersion {
		return Receipt{}, fmt.Errorf("%w: format version %d (this build reads %d)", ErrInvalidReceipt, v, ReceiptVersion)
	}
	r := Receipt{JobID: w.JobID, Error: w.Error, NodeID: w.NodeID}
	if r.ModuleCID, err = parseCIDField("module_cid", w.ModuleCID); err != nil {
		return Receipt{}, err
	}
	for i, s := range w.InputCIDs {
		c, err := parseCIDField(fmt.Sprintf("input_cids[%d]", i), s)
		if err != nil {
			return Receipt{}, err
		}
		r.InputCIDs = append(r.InputCIDs, c)
	}
	if w.ResultCID != "" {
		if r.ResultCID, err = parseCIDField("result_cid", w.ResultCID); err != nil {
			return Receipt{}, err
		}
	}
	if r.FuelUsed, err = parseUintField("fuel_used", w.FuelUsed, ^uint64(0), true); err != nil {
		return Receipt{}, err
	}
	exit, err := parseUintField("exit_code", w.ExitCode, 1<<32-1, true)
	if err != nil {
		return Receipt{}, err
	}
	r.ExitCode = uint32(exit)
	if w.PublicKey != "" {
		if r.PublicKey, err = parseBase64Field("public_key", w.PublicKey, ed25519.PublicKeySize); err != nil {
			return Receipt{}, err
		}
	}
	if w.Signature != "" {
		if r.Signature, err = parseBase64Field("signature", w.Signature, ed25519.SignatureSize); err != nil {
			return Receipt{}, err
		}
	}
	if w.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, w.Time)
		if err != nil {
			return Receipt{}, fmt.Errorf("%w: time %q is not RFC 3339", ErrInvalidReceipt, w.Time)
		}
		if t.IsZero() {
			return Receipt{}, fmt.Errorf("%w: time %q is the zero time", ErrInvalidReceipt, w.Time)
		}
		r.Time = t.UTC()
	}
	if err := r.validateContent(); err != nil {
		return Receipt{}, err
	}
	return r, nil
}

// MarshalJSON returns Encode's output.
func (r Receipt) MarshalJSON() ([]byte, error) { return r.Encode() }

// UnmarshalJSON decodes with DecodeReceipt.
func (r *Receipt) UnmarshalJSON(b []byte) error {
	v, err := DecodeReceipt(b)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func parseCIDField(name, s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %s %q is not a CID", ErrInvalidReceipt, name, s)
	}
	return c, nil
}

func parseBase64Field(name, s string, size int) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64", ErrInvalidReceipt, name)
	}
	if len(b) != size {
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", ErrInvalidReceipt, name, len(b), size)
	}
	return b, nil
}

// parseUintField parses a raw JSON value that must be a bare decimal integer
// in [0, max].
func parseUintField(name string, raw json.RawMessage, max uint64, required bool) (uint64, error) {
	if len(raw) == 0 {
		if required {
			return 0, fmt.Errorf("%w: missing %s", ErrInvalidReceipt, name)
		}
		return 0, nil
	}
	s := string(raw)
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%w: %s %s is not a decimal integer", ErrInvalidReceipt, name, s)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > max {
		return 0, fmt.Errorf("%w: %s %s is not an integer in 0..%d", ErrInvalidReceipt, name, s, max)
	}
	return v, nil
}
