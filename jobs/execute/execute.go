// Package execute runs one job execution on this node: it materialises the
// job's inputs from the DAG, runs the module in the wasm sandbox with the
// job's arguments, environment, seed and limits, and turns what the run
// produced into the result — a UnixFS directory whose CID every honest node
// computes identically:
//
//	outputs/    everything the module wrote under /outputs
//	stdout      what it wrote to stdout (up to the cap)
//	stderr      what it wrote to stderr (up to the cap)
//	exit_code   the exit code in decimal, newline-terminated
//	trap        present only when the module trapped: the deterministic reason
//
// A trap, a non-zero exit code or an exhausted fuel budget is a result, not
// an error: Execute returns an error only when this node could not do the
// work (a missing input, a disk error, a cancelled context).
//
// Execute is safe for concurrent use; each call works in its own folders
// (from Options.Dirs, emptied when it returns).
package execute

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/storage/unixfs"
	"github.com/ipdm/ipdm/wasm"
)

// Job is what one execution needs.
type Job struct {
	Spec   spec.Spec // defaults applied
	Module *wasm.Module
}

// Outcome is the deterministic result of an execution.
type Outcome struct {
	Result   cid.Cid
	ExitCode uint32
	Trap     string
	FuelUsed uint64
	// Stdout and Stderr are copies of the captured streams (also in the
	// result directory).
	Stdout, Stderr []byte
	// Run is the sandbox's full report (including non-deterministic
	// timings, for logs only).
	Run wasm.Result
}

// Options tunes Execute.
type Options struct {
	// Dirs provides the working folders (reused across executions); nil
	// makes fresh ones in TempDir and removes them afterwards.
	Dirs *WorkDirs
	// TempDir is where working folders are made when Dirs is nil; empty
	// means os.TempDir().
	TempDir string
	// Stdout and Stderr, when set, receive the module's output as it
	// writes it (wasm.RunSpec.Stdout and Stderr): they must not block.
	Stdout, Stderr io.Writer
}

// ErrInput is wrapped when an input cannot be materialised (missing, not
// UnixFS): a node error if the blocks are unreachable, which the caller
// distinguishes by errors.Is(err, context.DeadlineExceeded) or not found.
var ErrInput = errors.New("execute: input")

// Execute runs job. getter fetches input blocks (from the network when
// needed); dst receives the result's blocks.
func Execute(ctx context.Context, rt *wasm.Runtime, getter ipld.NodeGetter, dst unixfs.BlockWriter, job Job, opts Options) (Outcome, error) {
	dirs := opts.Dirs
	if dirs == nil {
		dirs = NewWorkDirs(opts.TempDir, 0)
		defer dirs.Close()
	}
	outDir, err := dirs.get()
	if err != nil {
		return Outcome{}, err
	}
	defer dirs.put(outDir)
	var inDir string
	if len(job.Spec.Inputs) > 0 {
		if inDir, err = dirs.get(); err != nil {
			return Outcome{}, err
		}
		defer dirs.put(inDir)
	}
	var inputs []wasm.Input
	for _, in := range job.Spec.Inputs {
		name := in.EffectiveName()
		p := filepath.Join(inDir, name)
		if err := unixfs.WriteTo(ctx, getter, in.CID, p, unixfs.ExportOptions{}); err != nil {
			return Outcome{}, fmt.Errorf("%w %s (%s): %w", ErrInput, name, in.CID, err)
		}
		inputs = append(inputs, wasm.Input{Name: name, Path: p})
	}
	seed, err := job.Spec.EffectiveSeed()
	if err != nil {
		return Outcome{}, err
	}
	var seedBytes [8]byte
	binary.BigEndian.PutUint64(seedBytes[:], seed)
	res, err := rt.Run(ctx, job.Module, wasm.RunSpec{
		Args:        append([]string{"main"}, job.Spec.Args...),
		Env:         job.Spec.Env,
		Inputs:      inputs,
		OutputDir:   outDir,
		Seed:        seedBytes[:],
		Fuel:        job.Spec.Resources.Fuel,
		MemoryPages: job.Spec.Resources.MemoryPages(),
		Stdout:      opts.Stdout,
		Stderr:      opts.Stderr,
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("execute: %w", err)
	}
	root, err := resultDir(ctx, dst, outDir, res)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{
		Result: root, ExitCode: res.ExitCode, Trap: res.Trap, FuelUsed: res.FuelUsed,
		Stdout: res.Stdout, Stderr: res.Stderr, Run: res,
	}, nil
}

// resultDir imports the result directory.
func resultDir(ctx context.Context, dst unixfs.BlockWriter, outDir string, res wasm.Result) (cid.Cid, error) {
	st, err := os.Stat(outDir)
	if err != nil {
		return cid.Undef, fmt.Errorf("execute: outputs: %w", err)
	}
	outputs, err := files.NewSerialFile(outDir, true, st)
	if err != nil {
		return cid.Undef, fmt.Errorf("execute: outputs: %w", err)
	}
	entries := map[string]files.Node{
		"outputs":   outputs,
		"stdout":    files.NewBytesFile(res.Stdout),
		"stderr":    files.NewBytesFile(res.Stderr),
		"exit_code": files.NewBytesFile([]byte(strconv.FormatUint(uint64(res.ExitCode), 10) + "\n")),
	}
	if res.Trap != "" {
		entries["trap"] = files.NewBytesFile([]byte(res.Trap + "\n"))
	}
	root, err := unixfs.ImportNode(ctx, dst, files.NewMapDirectory(entries), unixfs.Options{})
	if err != nil {
		return cid.Undef, fmt.Errorf("execute: result: %w", err)
	}
	return root, nil
}
