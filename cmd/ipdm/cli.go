package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"golang.org/x/term"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/node"
	"github.com/ipdm/ipdm/repo"
)

// env is what a verb gets: its arguments and the process's streams.
type env struct {
	args   []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type verb struct {
	usage string
	help  string
	run   func(ctx context.Context, e env) error
}

func verbs() map[string]verb {
	return map[string]verb{
		"init":     {"init [--repo DIR] [--api HOST:PORT] [--gateway HOST:PORT] [--listen MA]... [--bootstrap MA]... [--no-mdns]", "create a node repo (identity, config, stores)", cmdInit},
		"daemon":   {"daemon [--repo DIR] [--listen MA]... [--bootstrap MA]... [--api HOST:PORT] [--gateway HOST:PORT] [--log-level L]", "run the node until SIGINT/SIGTERM", cmdDaemon},
		"add":      {"add [-r] [-Q] [--hidden] [--pin=false] PATH|-", "import a file or directory as UnixFS and print its CID", cmdAdd},
		"cat":      {"cat [--timeout D] CID", "write a file's bytes to stdout", cmdCat},
		"get":      {"get [--timeout D] [-o PATH] CID", "save a file or directory to PATH (default: the CID)", cmdGet},
		"pin":      {"pin add|rm|ls [CID]", "manage recursive pins", cmdPin},
		"repo":     {"repo gc|stat|verify", "garbage-collect, describe or check the block store", cmdRepo},
		"dag":      {"dag export CID > FILE.car | dag import FILE.car", "CAR v1 export and import", cmdDag},
		"block":    {"block get|put|stat", "raw block access", cmdBlock},
		"id":       {"id [--json]", "show the node's peer ID and addresses", cmdID},
		"swarm":    {"swarm connect MULTIADDR | swarm peers", "libp2p connections", cmdSwarm},
		"peers":    {"peers [--json]", "show the live capability index of peers heard from", cmdPeers},
		"module":   {"module add FILE.wasm [--name N --version V] | module ls | module show CID|NAME@VERSION", "validate, store and name Wasm modules", cmdModule},
		"job":      {"job run [--module REF] [--input CID]... [--replicas K] [--wait|--follow] [--id-only] [--dry-run] [--json] [-f spec.yaml] [-- ARGS...] | job list | job describe|cancel|receipts ID | job logs ID [--follow] | job reputation | job get ID [-o PATH] | job verify RECEIPT.json", "run verified Wasm jobs on the network", cmdJob},
		"pipeline": {"pipeline run MANIFEST --source URI [--sink URI] [--from N] [--to N] [--segment-size N] [--replicas K] [--local] | pipeline status NAME | pipeline diff A B", "index chain data with Wasm pipelines, in parallel segments, verified", cmdPipeline},
		"devnet":   {"devnet --nodes N [--dir DIR]", "run N local nodes as separate processes until Ctrl-C", cmdDevnet},
		"demo":     {"demo", "start a small network, store and retrieve data, print a summary", cmdDemo},
		"version":  {"version", "print the version", func(ctx context.Context, e env) error { fmt.Fprintln(e.stdout, node.Version); return nil }},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	vs := verbs()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, vs)
		return 0
	}
	v, ok := vs[args[0]]
	if !ok {
		printError(stderr, fmt.Errorf("unknown command %q", args[0]), "run 'ipdm help' for the list of commands")
		return 2
	}
	err := v.run(ctx, env{args: args[1:], stdin: stdin, stdout: stdout, stderr: stderr})
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		printError(stderr, err, "usage: ipdm "+v.usage)
		return 2
	}
	printError(stderr, err, hintFor(err))
	return 1
}

func usage(w io.Writer, vs map[string]verb) {
	fmt.Fprintln(w, "ipdm — Interplanetary Data Machine node, CLI and gateway")
	fmt.Fprintln(w, "\nusage: ipdm COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(vs))
	for n := range vs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, vs[n].help)
	}
	fmt.Fprintln(w, "\nEvery command takes --repo DIR (default $IPDM_PATH or ~/.ipdm). Commands use the")
	fmt.Fprintln(w, "repo's running daemon when there is one and work on the repo directly otherwise.")
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func printError(w io.Writer, err error, hint string) {
	fmt.Fprintf(w, "ipdm: error: %v\n", err)
	if hint != "" {
		fmt.Fprintf(w, "ipdm: hint: %s\n", hint)
	}
}

// hintFor suggests what to do about err; the daemon's own hint wins.
func hintFor(err error) string {
	var se *api.StatusError
	if errors.As(err, &se) && se.Hint != "" {
		return se.Hint
	}
	switch {
	case errors.Is(err, repo.ErrNotInitialized):
		return "run 'ipdm init' first, or point --repo (or IPDM_PATH) at an existing repo"
	case errors.Is(err, repo.ErrLocked):
		return "another ipdm process has this repo open; if no daemon is running, wait for it to finish"
	case errors.Is(err, repo.ErrExists):
		return "the repo is already initialized; use it, or choose another --repo"
	case errors.Is(err, node.ErrOffline):
		return "start the node with 'ipdm daemon' (this command needs the network)"
	case errors.Is(err, context.DeadlineExceeded):
		return "no peer delivered the data in time: check the CID, that a node holding it is online ('ipdm swarm peers'), or raise --timeout"
	case errors.Is(err, errBadCID):
		return "a CID looks like bafybei... or Qm...; check for copy/paste truncation"
	case errors.Is(err, api.ErrNotFound):
		return "nothing is stored under that name here"
	}
	return ""
}

var errBadCID = errors.New("invalid CID")

func parseCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w %q: %v", errBadCID, s, err)
	}
	return c, nil
}

// flags is a verb's flag set with the flags every verb shares.
type flags struct {
	*flag.FlagSet
	repo     string
	json     bool
	logLevel string
	timeout  time.Duration
}

func newFlags(name string, e env) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(e.stderr)
	f.StringVar(&f.repo, "repo", "", "node repo folder (default $IPDM_PATH or ~/.ipdm)")
	f.BoolVar(&f.json, "json", false, "print JSON")
	f.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.DurationVar(&f.timeout, "timeout", 0, "overall deadline for fetching (e.g. 30s; 0 = none: the node's fetch_timeout still bounds the wait for each block)")
	return f
}

// parse accepts flags before and after positional arguments, as Kubo does;
// "--" ends flag parsing.
func (f *flags) parse(args []string) ([]string, error) {
	var flagArgs, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flagArgs = append(flagArgs, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		fl := f.Lookup(name)
		if fl == nil {
			continue // flag.Parse reports it
		}
		if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flagArgs = append(flagArgs, args[i])
		}
	}
	if err := f.Parse(flagArgs); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err.Error()}
	}
	return pos, nil
}

// open returns the backend of --repo and ctx bounded by --timeout; done
// releases both.
func (f *flags) open(ctx context.Context) (backend, context.Context, func(), error) {
	b, err := openBackend(ctx, f)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := withTimeout(ctx, f.timeout)
	return b, ctx, func() { cancel(); b.Close() }, nil
}

// repoPath resolves --repo, then IPDM_PATH, then ~/.ipdm.
func (f *flags) repoPath() (string, error) {
	if f.repo != "" {
		return filepath.Abs(f.repo)
	}
	if p := os.Getenv("IPDM_PATH"); p != "" {
		return filepath.Abs(p)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --repo given and no home folder: %w", err)
	}
	return filepath.Join(home, ".ipdm"), nil
}

func (f *flags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether w is an interactive terminal (progress bars
// only go there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
