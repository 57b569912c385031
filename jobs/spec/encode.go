package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// codecJSON is the multicodec code of plain JSON, used for job IDs: a job ID
// is the CID of the spec's canonical encoding.
const codecJSON = 0x0200

// Decode parses a job spec from JSON or YAML and validates it. A document
// whose first non-blank byte is '{' and that is valid JSON is read as JSON;
// anything else as YAML (a single document; anchors, aliases, merge keys and
// custom tags are rejected). Decoding is strict: unknown and duplicate
// fields are errors. A null field is the same as an absent one.
//
// On failure the error is a *FieldErrors listing every problem found, each
// with its path and position; syntax errors are reported at path "spec".
// Decode does not fill defaults; see WithDefaults.
func Decode(data []byte) (Spec, error) {
	w := walker{c: newCollector()}
	if len(data) > MaxEncodedSize {
		w.c.Report("spec", fmt.Sprintf("document of %d bytes exceeds the limit of %d", len(data), MaxEncodedSize))
		return Spec{}, w.c.Err()
	}
	root, err := parseDocument(data)
	if err != nil {
		w.c.Report("spec", "syntax: "+err.Error())
		return Spec{}, w.c.Err()
	}
	s := w.spec(root)
	if root.kind == mapNode {
		s.validate(&w.c)
	}
	if err := w.c.Err(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

type wireSpec struct {
	APIVersion  string            `json:"apiVersion"`
	Kind        string            `json:"kind"`
	Module      string            `json:"module"`
	Runner      string            `json:"runner,omitempty"`
	Inputs      []wireInput       `json:"inputs,omitempty"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Resources   *wireResources    `json:"resources,omitempty"`
	Replicas    int               `json:"replicas,omitempty"`
	Quorum      int               `json:"quorum,omitempty"`
	Constraints *wireConstraints  `json:"constraints,omitempty"`
	Publisher   *wirePublisher    `json:"publisher,omitempty"`
	Seed        *uint64           `json:"seed,omitempty"`
}

type wireInput struct {
	CID  string `json:"cid"`
	Name string `json:"name,omitempty"`
}

type wireResources struct {
	Memory   uint64        `json:"memory,omitempty"`
	Fuel     uint64        `json:"fuel,omitempty"`
	Timeouts *wireTimeouts `json:"timeouts,omitempty"`
}

type wireTimeouts struct {
	Queue     string `json:"queue,omitempty"`
	Execution string `json:"execution,omitempty"`
	Total     string `json:"total,omitempty"`
}

type wireConstraints struct {
	Labels map[string]string `json:"labels,omitempty"`
	Roles  []string          `json:"roles,omitempty"`
}

type wirePublisher struct {
	Local bool `json:"local,omitempty"`
	PinOn int  `json:"pin_on,omitempty"`
}

// Encode validates s and returns its canonical encoding: compact JSON with
// fields in a fixed order, map keys sorted, roles sorted, CIDs in their
// canonical string form, sizes in bytes, durations in Go's canonical form
// ("1m30s"), no HTML escaping, and empty or zero fields left out. Equal
// specs have equal encodings, and Decode(Encode(s)) reproduces s up to the
// order of roles and the string form of CIDs. Encode does not fill defaults.
func (s Spec) Encode() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("spec: encode: %w", err)
	}
	w := wireSpec{
		APIVersion: s.APIVersion,
		Kind:       s.Kind,
		Module:     s.Module.String(),
		Runner:     s.Runner,
		Args:       s.Args,
		Env:        s.Env,
		Replicas:   s.Replicas,
		Quorum:     s.Quorum,
		Seed:       s.Seed,
	}
	for _, in := range s.Inputs {
		w.Inputs = append(w.Inputs, wireInput{CID: in.CID.String(), Name: in.Name})
	}
	r := s.Resources
	t := r.Timeouts
	var wt *wireTimeouts
	if t != (Timeouts{}) {
		wt = &wireTimeouts{Queue: durString(t.Queue), Execution: durString(t.Execution), Total: durString(t.Total)}
	}
	if r.Memory != 0 || r.Fuel != 0 || wt != nil {
		w.Resources = &wireResources{Memory: uint64(r.Memory), Fuel: r.Fuel, Timeouts: wt}
	}
	if !s.Constraints.IsZero() {
		w.Constraints = &wireConstraints{Labels: s.Constraints.Labels, Roles: slices.Sorted(slices.Values(s.Constraints.Roles))}
	}
	if s.Publisher != (Publisher{}) {
		w.Publisher = &wirePublisher{Local: s.Publisher.Local, PinOn: s.Publisher.PinOn}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("spec: encode: %w", err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(out) > MaxEncodedSize {
		return nil, fmt.Errorf("spec: encode: %w", &FieldErrors{Errors: []FieldError{{
			Path: "spec", Detail: fmt.Sprintf("canonical encoding of %d bytes exceeds the limit of %d", len(out), MaxEncodedSize),
		}}, Kind: ErrInvalidSpec})
	}
	return out, nil
}

func durString(d time.Duration) string {
	s := d.String()
	if s == "0s" {
		return ""
	}
	return s
}

// Digest returns the SHA-256 of the canonical encoding of s.WithDefaults().
// Specs that differ only in spelling (JSON or YAML, field order, size units,
// CID string bases, defaults written out or left implicit) have the same
// digest.
func (s Spec) Digest() ([32]byte, error) {
	b, err := s.WithDefaults().Encode()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// ID returns the job's content identifier: a CIDv1 with the JSON codec
// (0x0200) and the SHA-256 multihash of the same bytes Digest hashes, so the
// canonical spec can itself be stored as a block under its ID.
func (s Spec) ID() (cid.Cid, error) {
	d, err := s.Digest()
	if err != nil {
		return cid.Undef, err
	}
	h, err := mh.Encode(d[:], mh.SHA2_256)
	if err != nil {
		return cid.Undef, fmt.Errorf("spec: id: %w", err)
	}
	return cid.NewCidV1(codecJSON, h), nil
}

// EffectiveSeed returns *Seed, or when Seed is nil the first 8 bytes of the
// digest read as a big-endian integer.
func (s Spec) EffectiveSeed() (uint64, error) {
	if s.Seed != nil {
		return *s.Seed, nil
	}
	d, err := s.Digest()
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(d[:8]), nil
}

// MarshalJSON returns the canonical encoding (see Encode).
func (s Spec) MarshalJSON() ([]byte, error) { return s.Encode() }

// UnmarshalJSON decodes and validates a spec (see Decode).
func (s *Spec) UnmarshalJSON(b []byte) error {
	v, err := Decode(b)
	if err != nil {
		return err
	}
	*s = v
	return nil
}
