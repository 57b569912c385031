package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/unixfs"
)

// Plan is a validated manifest with everything needed to run it: every
// module's Wasm bytes and CID, its identity and its stage.
//
// Stages order the work: a module's stage is the highest stage among its
// map inputs, and one more than the highest stage among its store inputs
// (a store read "as of the current block" needs the state every earlier
// segment produced, so it is merged between stages). Within a stage every
// segment is independent and runs in parallel.
type Plan struct {
	Manifest manifest.Manifest // defaults applied
	// ManifestBytes is the manifest document as given.
	ManifestBytes []byte
	// Modules in topological order.
	Modules []*Module
	// Output is the map module whose rows go to the sink.
	Output string
	// Stages is the number of stages.
	Stages int
	byName map[string]*Module
}

// Module is one planned module.
type Module struct {
	manifest.Module
	Wasm     []byte
	WasmCID  cid.Cid
	Identity string
	Stage    int
	// Readers are the modules that read this one, in plan order.
	Readers []string
}

// Module returns the planned module called name.
func (p *Plan) Module(name string) (*Module, bool) {
	m, ok := p.byName[name]
	return m, ok
}

// WasmCID returns the CID a Wasm binary has when stored as a UnixFS file
// (as `ipdm add` and `ipdm module add` store it).
func WasmCID(ctx context.Context, wasm []byte) (cid.Cid, error) {
	return unixfs.ImportReader(ctx, blocks.NewMemory(), bytes.NewReader(wasm), unixfs.Options{})
}

// Load reads a manifest file and the Wasm files it names (relative to the
// manifest's directory). Modules named by CID are returned in needCID for
// the caller to fetch; their bytes are absent from wasm.
func Load(path string) (doc []byte, m manifest.Manifest, wasm map[string][]byte, needCID map[string]cid.Cid, err error) {
	doc, err = os.ReadFile(path)
	if err != nil {
		return nil, manifest.Manifest{}, nil, nil, fmt.Errorf("pipeline: %w", err)
	}
	m, err = manifest.Decode(doc)
	if err != nil {
		return nil, manifest.Manifest{}, nil, nil, fmt.Errorf("pipeline: %s: %w", path, err)
	}
	wasm, needCID = map[string][]byte{}, map[string]cid.Cid{}
	dir := filepath.Dir(path)
	for _, mod := range m.Modules {
		if mod.File == "" {
			needCID[mod.Name] = mod.CID
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(mod.File)))
		if err != nil {
			return nil, manifest.Manifest{}, nil, nil, fmt.Errorf("pipeline: module %q: %w", mod.Name, err)
		}
		wasm[mod.Name] = b
	}
	return doc, m, wasm, needCID, nil
}

// NewPlan plans a manifest. wasm holds every module's binary; a module
// that names its binary by CID must match it. output names the module
// whose rows are the pipeline's output; empty means the only map module
// no other map module reads.
func NewPlan(ctx context.Context, doc []byte, m manifest.Manifest, wasm map[string][]byte, output string) (*Plan, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m = m.WithDefaults()
	order, err := m.Order()
	if err != nil {
		return nil, err
	}
	p := &Plan{Manifest: m, ManifestBytes: doc, byName: map[string]*Module{}}
	cids := map[string]cid.Cid{}
	for _, name := range order {
		mod, _ := m.Module(name)
		b, ok := wasm[name]
		if !ok {
			return nil, fmt.Errorf("pipeline: module %q: no Wasm binary", name)
		}
		c, err := WasmCID(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("pipeline: module %q: %w", name, err)
		}
		if mod.CID.Defined() && !mod.CID.Equals(c) {
			return nil, fmt.Errorf("pipeline: module %q: the manifest names binary %s but the bytes given are %s", name, mod.CID, c)
		}
		cids[name] = c
		pm := &Module{Module: mod, Wasm: b, WasmCID: c}
		p.Modules = append(p.Modules, pm)
		p.byName[name] = pm
	}
	ids, err := manifest.Identities(m, cids)
	if err != nil {
		return nil, err
	}
	for _, pm := range p.Modules {
		pm.Identity = ids[pm.Name]
		for _, in := range pm.Inputs {
			up, ok := p.byName[in.Module]
			if !ok {
				continue
			}
			stage := up.Stage
			if in.Kind == manifest.InputStore {
				stage++
			}
			pm.Stage = max(pm.Stage, stage)
			if !slices.Contains(up.Readers, pm.Name) {
				up.Readers = append(up.Readers, pm.Name)
			}
		}
		p.Stages = max(p.Stages, pm.Stage+1)
	}
	if output == "" {
		// The map module no other map module reads (stores may).
		var leaves []string
		for _, pm := range p.Modules {
			if pm.Kind != manifest.KindMap {
				continue
			}
			leaf := true
			for _, r := range pm.Readers {
				if rm := p.byName[r]; rm.Kind == manifest.KindMap {
					leaf = false
				}
			}
			if leaf {
				leaves = append(leaves, pm.Name)
			}
		}
		if len(leaves) != 1 {
			return nil, fmt.Errorf("pipeline: %d map modules are unread (%v): name the output module with --module", len(leaves), leaves)
		}
		output = leaves[0]
	}
	out, ok := p.byName[output]
	switch {
	case !ok:
		return nil, fmt.Errorf("pipeline: no module named %q to output", output)
	case out.Kind != manifest.KindMap:
		return nil, fmt.Errorf("pipeline: output module %q is a store; name a map module", output)
	}
	p.Output = output
	return p, nil
}

// SourceKinds returns the source kinds any module reads, sorted.
func (p *Plan) SourceKinds() []manifest.SourceKind {
	var ks []manifest.SourceKind
	for _, pm := range p.Modules {
		for _, in := range pm.Inputs {
			if in.Kind == manifest.InputSource && !slices.Contains(ks, in.Source) {
				ks = append(ks, in.Source)
			}
		}
	}
	slices.Sort(ks)
	return ks
}

// Chain returns the chain the pipeline indexes ("ethereum" or "solana").
func (p *Plan) Chain() string {
	if ks := p.SourceKinds(); len(ks) > 0 {
		return ks[0].Chain()
	}
	return ""
}

// StageModules returns the modules of stage s in plan order.
func (p *Plan) StageModules(s int) []*Module {
	var out []*Module
	for _, pm := range p.Modules {
		if pm.Stage == s {
			out = append(out, pm)
		}
	}
	return out
}

// StartBlock returns the lowest start block of any module.
func (p *Plan) StartBlock() uint64 {
	var lo uint64
	for i, pm := range p.Modules {
		if i == 0 || pm.StartBlock < lo {
			lo = pm.StartBlock
		}
	}
	return lo
}
