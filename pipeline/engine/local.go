package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipdm/ipdm/wasm"
)

// Local runs stages in this process.
type Local struct {
	Runtime *wasm.Runtime
	Options RunOptions
}

// RunStage implements Executor.
func (l *Local) RunStage(ctx context.Context, p *Plan, names []string, in StageInput) (StageResult, error) {
	outs, err := RunStage(ctx, l.Runtime, p, names, in, l.Options)
	if err != nil {
		return StageResult{}, err
	}
	return StageResult{Outputs: outs}, nil
}

// DirCache is a Cache in a local directory: one file per (identity,
// segment), written atomically. It serves runs without a node.
type DirCache struct{ Dir string }

func (c DirCache) path(k CacheKey) (string, error) {
	if k.Identity == "" || strings.ContainsAny(k.Identity, `/\.`) {
		return "", fmt.Errorf("pipeline: cache: bad identity %q", k.Identity)
	}
	return filepath.Join(c.Dir, k.Identity, k.Segment.String()+".out"), nil
}

// Get implements Cache. A corrupt file is a miss (and is removed).
func (c DirCache) Get(_ context.Context, k CacheKey) (*Output, bool, error) {
	p, err := c.path(k)
	if err != nil {
		return nil, false, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pipeline: cache: %w", err)
	}
	o, err := DecodeOutput(data)
	if err != nil || o.Identity != k.Identity || o.Segment != k.Segment {
		os.Remove(p)
		return nil, false, nil
	}
	return o, true, nil
}

// Put implements Cache.
func (c DirCache) Put(_ context.Context, k CacheKey, o *Output, _ Provenance) error {
	p, err := c.path(k)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("pipeline: cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("pipeline: cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(o.Encode()); err != nil {
		tmp.Close()
		return fmt.Errorf("pipeline: cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pipeline: cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pipeline: cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("pipeline: cache: %w", err)
	}
	return nil
}
