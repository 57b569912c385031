package wasm

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// sandbox is the guest's environment for one run, built from the RunSpec
// alone: arguments, environment, virtual clock, seeded randomness, captured
// streams and the /inputs and /outputs file systems.
type sandbox struct {
	config         wazero.ModuleConfig
	stdout, stderr *capWriter
	quota          *outputQuota // nil without /outputs
	inputs         *inputTree
	stdin          *os.File // nil when stdin is empty
}

func newSandbox(spec RunSpec) (*sandbox, error) {
	inputs, err := openInputs(spec.Inputs)
	if err != nil {
		return nil, err
	}
	sb := &sandbox{
		inputs: inputs,
		stdout: &capWriter{max: spec.MaxStdout, live: spec.Stdout},
		stderr: &capWriter{max: spec.MaxStderr, live: spec.Stderr},
	}
	var stdin io.Reader = strings.NewReader("")
	for _, in := range spec.Inputs { // the first file in spec order
		if e, _ := inputs.find(in.Name); e.file != "" {
			if sb.stdin, err = os.Open(e.file); err != nil {
				sb.close()
				return nil, fmt.Errorf("stdin from input %s: %w", in.Name, err)
			}
			stdin = fullReader{sb.stdin}
			break
		}
	}

	filetime := spec.Epoch.UnixNano()
	fsc := wazero.NewFSConfig().(sysfs.FSConfig).
		WithSysFSMount(&detFS{under: &sysfs.AdaptFS{FS: inputs}, tag: "/inputs", filetime: filetime}, "/inputs")
	if spec.OutputDir != "" {
		st, err := os.Stat(spec.OutputDir)
		if err != nil {
			sb.close()
			return nil, fmt.Errorf("output dir: %w", err)
		}
		if !st.IsDir() {
			sb.close()
			return nil, fmt.Errorf("%w: output dir %s is not a directory", ErrInvalidRunSpec, spec.OutputDir)
		}
		sb.quota = &outputQuota{max: spec.MaxOutputBytes}
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(
			&detFS{under: sysfs.DirFS(spec.OutputDir), tag: "/outputs", quota: sb.quota, filetime: filetime}, "/outputs")
	}

	mc := detModuleConfig(spec.Epoch, spec.Seed, sb.stdout, sb.stderr).
		WithArgs(spec.Args...).
		WithStdin(stdin).
		WithFSConfig(fsc)
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		mc = mc.WithEnv(k, spec.Env[k])
	}
	sb.config = mc
	return sb, nil
}

// detModuleConfig is the environment runs and instances share: no start
// functions (the host calls them once the fuel is set), a virtual clock
// starting at epoch, randomness from seed and captured streams. stdin is
// empty and there is no file system unless the caller adds them.
func detModuleConfig(epoch time.Time, seed []byte, stdout, stderr io.Writer) wazero.ModuleConfig {
	clock := &virtualClock{epoch: epoch.UnixNano()}
	return wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdout(stdout).
		WithStderr(stderr).
		WithWalltime(clock.walltime, sys.ClockResolution(clockTick)).
		WithNanotime(clock.nanotime, sys.ClockResolution(clockTick)).
		WithNanosleep(clock.nanosleep).
		WithOsyield(func() {}).
		WithRandSource(newSeededRand(seed))
}

func (sb *sandbox) close() {
	sb.inputs.close()
	if sb.stdin != nil {
		_ = sb.stdin.Close()
	}
}
