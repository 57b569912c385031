package manifest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// identityVersion tags the identity document, so that a change to what an
// identity covers changes every identity rather than colliding with old ones.
const identityVersion = "ipdm.pipeline.module.v1"

// codecDagJSON is the multicodec of DAG-JSON.
const codecDagJSON = 0x0129

// Identity returns the content identity of a module's output: a CIDv1
// (DAG-JSON, SHA-256) of a canonical DAG-JSON document holding everything
// that determines the output bytes — the Wasm binary's CID, the entrypoint,
// the kind with its output type or store policy and value type, the start
// block, and the inputs in order: source kinds, params (as bytes), store
// modes, and the identities of upstream modules as links. Module names are
// not part of it: renaming a module keeps its identity, so cached outputs
// stay valid; changing anything upstream changes every identity downstream.
//
// wasm is the binary's CID; it may be cid.Undef when mod.CID names the
// binary, and must equal mod.CID when both are set. upstream maps each
// module named by a map or store input to its identity. Identity is pure.
func Identity(mod Module, wasm cid.Cid, upstream map[string]string) (string, error) {
	doc, err := identityDocument(mod, wasm, upstream)
	if err != nil {
		return "", err
	}
	return identityCID(doc).String(), nil
}

// identityDocument returns the canonical DAG-JSON document Identity hashes.
func identityDocument(mod Module, wasm cid.Cid, upstream map[string]string) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("manifest: identity of module %q: %s: %w", mod.Name, fmt.Sprintf(format, args...), ErrInvalidManifest)
	}
	switch {
	case !wasm.Defined() && !mod.CID.Defined():
		return fail("no Wasm CID")
	case !wasm.Defined():
		wasm = mod.CID
	case mod.CID.Defined() && !mod.CID.Equals(wasm):
		return fail("the module names binary %s, not %s", mod.CID, wasm)
	}
	if !entrypointRe.MatchString(mod.Entrypoint) {
		return fail("%s", notA(mod.Entrypoint, "an exported function name"))
	}
	if mod.StartBlock > MaxStartBlock {
		return fail("start block %d exceeds %d", mod.StartBlock, uint64(MaxStartBlock))
	}

	// Keys are written in DAG-JSON's order: sorted by their bytes.
	b := []byte(`{"entrypoint":`)
	b = appendString(b, mod.Entrypoint)
	b = append(b, `,"inputs":[`...)
	for i, in := range mod.Inputs {
		if i > 0 {
			b = append(b, ',')
		}
		switch in.Kind {
		case InputSource:
			if in.Source.Type() == "" {
				return fail("inputs[%d]: %s", i, notA(string(in.Source), "a source kind"))
			}
			b = append(b, `{"kind":"source","source":`...)
			b = appendString(b, string(in.Source))
		case InputMap, InputStore:
			id, ok := upstream[in.Module]
			if !ok {
				return fail("inputs[%d]: no identity given for upstream module %q", i, in.Module)
			}
			c, err := cid.Decode(id)
			if err != nil {
				return fail("inputs[%d]: identity %q of %q is not a CID: %v", i, id, in.Module, err)
			}
			b = append(b, `{"identity":`...)
			b = appendLink(b, c)
			b = append(b, `,"kind":`...)
			b = appendString(b, string(in.Kind))
			if in.Kind == InputStore {
				mode := in.Mode
				if mode == "" {
					mode = ModeGet
				}
				if mode != ModeGet && mode != ModeDeltas {
					return fail("inputs[%d]: %s", i, notA(string(in.Mode), "get or deltas"))
				}
				b = append(b, `,"mode":`...)
				b = appendString(b, string(mode))
			}
		case InputParams:
			b = append(b, `{"kind":"params","value":{"/":{"bytes":`...)
			b = appendString(b, base64.RawStdEncoding.EncodeToString([]byte(in.Params)))
			b = append(b, '}', '}')
		default:
			return fail("inputs[%d]: input kind %q is not source, map, store or params", i, in.Kind)
		}
		b = append(b, '}')
	}
	b = append(b, `],"kind":`...)
	b = appendString(b, string(mod.Kind))
	switch mod.Kind {
	case KindMap:
		if !typeRe.MatchString(mod.Output) {
			return fail("%s", notA(mod.Output, typeRule))
		}
		b = append(b, `,"output":`...)
		b = appendString(b, mod.Output)
		b = append(b, `,"start_block":`...)
		b = strconv.AppendUint(b, mod.StartBlock, 10)
	case KindStore:
		types, ok := policyTypes[mod.UpdatePolicy]
		if !ok || !slices.Contains(types, mod.ValueType) {
			return fail("update policy %q with value type %q", mod.UpdatePolicy, mod.ValueType)
		}
		b = append(b, `,"start_block":`...)
		b = strconv.AppendUint(b, mod.StartBlock, 10)
		b = append(b, `,"update_policy":`...)
		b = appendString(b, string(mod.UpdatePolicy))
		b = append(b, `,"value_type":`...)
		b = appendString(b, string(mod.ValueType))
	default:
		return fail("%s", notA(string(mod.Kind), "map or store"))
	}
	b = append(b, `,"version":`...)
	b = appendString(b, identityVersion)
	b = append(b, `,"wasm":`...)
	b = appendLink(b, wasm)
	return append(b, '}'), nil
}

// identityCID returns the CIDv1 (DAG-JSON, SHA-256) of a document.
func identityCID(doc []byte) cid.Cid {
	sum := sha256.Sum256(doc)
	h, _ := mh.Encode(sum[:], mh.SHA2_256) // cannot fail for SHA2_256 and 32 bytes
	return cid.NewCidV1(codecDagJSON, h)
}

// Identities computes the identity of every module of a valid manifest, in
// topological order. wasm maps module names to their binaries' CIDs; it may
// omit modules whose CID field names the binary.
func Identities(m Manifest, wasm map[string]cid.Cid) (map[string]string, error) {
	order, err := m.Order()
	if err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(order))
	for _, name := range order {
		mod, _ := m.Module(name)
		id, err := Identity(mod, wasm[name], ids)
		if err != nil {
			return nil, err
		}
		ids[name] = id
	}
	return ids, nil
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

func appendLink(b []byte, c cid.Cid) []byte {
	b = append(b, `{"/":`...)
	b = appendString(b, c.String())
	return append(b, '}')
}
