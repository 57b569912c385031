// Package devnet runs a small IPDM network on loopback: N daemons as
// separate OS processes, each with its own repo, the first one serving as
// the bootstrap peer of the others. 'ipdm devnet', 'ipdm demo' and the
// multi-process integration tests use it.
//
// A Net owns its processes: Stop (or Kill) ends every one of them. Net
// methods are not safe for concurrent use.
package devnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/repo"
)

// Options tunes Start.
type Options struct {
	// Binary is the ipdm executable to run. Required.
	Binary string
	// Nodes is how many daemons to start. Default 3.
	Nodes int
	// Dir holds one repo per node (node0, node1, …) and their logs.
	// Required; existing repos are reused.
	Dir string
	// FetchTimeout is each daemon's stall timeout for blocks. Default 30s.
	FetchTimeout time.Duration
	// AdvertInterval is each daemon's capability advert period. Default 2s.
	AdvertInterval time.Duration
	// NoBootstrap starts every node without bootstrap peers (isolated).
	NoBootstrap bool
	// ExtraArgs are appended to every 'ipdm daemon' command line.
	ExtraArgs []string
	// PerNodeArgs are appended to the command line of the node with that
	// index (e.g. {3: {"--fault", "lie"}}).
	PerNodeArgs map[int][]string
	// Env is added to the daemons' environment.
	Env []string
	// ReadyTimeout bounds how long a daemon may take to come up. Default 60s.
	ReadyTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.FetchTimeout == 0 {
		o.FetchTimeout = 30 * time.Second
	}
	if o.AdvertInterval == 0 {
		o.AdvertInterval = 2 * time.Second
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	return o
}

// Node is one running daemon.
type Node struct {
	Index   int
	Repo    string
	API     string // host:port
	Gateway string // host:port
	PeerID  string
	Addrs   []string // full multiaddrs with /p2p/ID
	Log     string   // daemon log file

	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status once done is closed
}

// PID is the daemon's process ID (0 when not running).
func (n *Node) PID() int {
	if !n.Running() {
		return 0
	}
	return n.cmd.Process.Pid
}

// Client returns an API client for the node.
func (n *Node) Client() *api.Client { return api.NewClient(n.API) }

// Running reports whether the daemon process is alive.
func (n *Node) Running() bool {
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Net is a running devnet.
type Net struct {
	opts  Options
	Nodes []*Node
}

// Start initializes missing repos and starts the daemons: node 0 first, then
// the others with node 0 as bootstrap peer. It returns once every API
// answers.
func Start(ctx context.Context, opts Options) (*Net, error) {
	opts = opts.withDefaults()
	if opts.Binary == "" || opts.Dir == "" {
		return nil, errors.New("devnet: Binary and Dir are required")
	}
	if opts.Nodes < 1 {
		return nil, fmt.Errorf("devnet: %d nodes: want at least 1", opts.Nodes)
	}
	net := &Net{opts: opts}
	for i := 0; i < opts.Nodes; i++ {
		net.Nodes = append(net.Nodes, &Node{Index: i, Repo: filepath.Join(opts.Dir, "node"+strconv.Itoa(i))})
	}
	for _, n := range net.Nodes {
		if err := net.initRepo(ctx, n); err != nil {
			return nil, err
		}
	}
	for i, n := range net.Nodes {
		if err := net.start(ctx, n); err != nil {
			net.Stop()
			return nil, err
		}
		if i == 0 && len(net.Nodes[0].Addrs) == 0 {
			net.Stop()
			return nil, errors.New("devnet: node0 reports no listen address")
		}
	}
	return net, nil
}

func (net *Net) initRepo(ctx context.Context, n *Node) error {
	if repo.Exists(n.Repo) {
		return nil
	}
	out, err := exec.CommandContext(ctx, net.opts.Binary, "init", "--repo", n.Repo,
		"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1",
		"--api", "127.0.0.1:0", "--gateway", "127.0.0.1:0", "--no-mdns",
		"--fetch-timeout", net.opts.FetchTimeout.String(),
		"--advert-interval", net.opts.AdvertInterval.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("devnet: init %s: %v: %s", n.Repo, err, bytes.TrimSpace(out))
	}
	return nil
}

// Start restarts a stopped node (same repo, same identity).
func (net *Net) Start(ctx context.Context, i int) error { return net.start(ctx, net.Nodes[i]) }

func (net *Net) start(ctx context.Context, n *Node) error {
	if n.Running() {
		return fmt.Errorf("devnet: node%d is already running", n.Index)
	}
	args := []string{"daemon", "--repo", n.Repo, "--log-level", "debug"}
	if n.Index > 0 && !net.opts.NoBootstrap {
		for _, a := range net.Nodes[0].Addrs {
			args = append(args, "--bootstrap", a)
		}
	}
	args = append(args, net.opts.ExtraArgs...)
	args = append(args, net.opts.PerNodeArgs[n.Index]...)
	n.Log = filepath.Join(n.Repo, "daemon.log")
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	// A stale api file from a killed daemon must not be mistaken for ours.
	os.Remove(filepath.Join(n.Repo, repo.APIFile))
	cmd := exec.Command(net.opts.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), net.opts.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("devnet: start node%d: %w", n.Index, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() {
		n.err = cmd.Wait()
		logf.Close()
		close(n.done)
	}()
	return net.waitReady(ctx, n)
}

func (net *Net) waitReady(ctx context.Context, n *Node) error {
	deadline := time.Now().Add(net.opts.ReadyTimeout)
	for {
		if addr, err := repo.ReadAddr(n.Repo, repo.APIFile); err == nil {
			c := api.NewClient(addr)
			id, err := c.ID(ctx)
			c.Close()
			if err == nil {
				n.API, n.PeerID, n.Addrs = addr, id.ID, id.Addresses
				n.Gateway, _ = repo.ReadAddr(n.Repo, repo.GatewayFile)
				return nil
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		select {
		case <-n.done:
			return fmt.Errorf("devnet: node%d exited (%v) before it was ready; log %s:\n%s", n.Index, n.err, n.Log, tail(n.Log, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devnet: node%d not ready after %s; log %s:\n%s", n.Index, net.opts.ReadyTimeout, n.Log, tail(n.Log, 20))
		}
	}
}

// WaitPeers waits until every node sees at least min capability adverts
// (itself excluded), i.e. the network has formed.
func (net *Net) WaitPeers(ctx context.Context, min int) error {
	for _, n := range net.Nodes {
		c := n.Client()
		for {
			ps, err := c.Peers(ctx)
			others := 0
			for _, p := range ps {
				if !p.Self {
					others++
				}
			}
			if err == nil && others >= min {
				break
			}
			select {
			case <-ctx.Done():
				c.Close()
				return fmt.Errorf("devnet: node%d sees %d peers, want %d: %w", n.Index, others, min, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
		c.Close()
	}
	return nil
}

// Stop sends SIGTERM to node i and waits up to 10s before SIGKILL.
func (net *Net) StopNode(i int) error {
	n := net.Nodes[i]
	if !n.Running() {
		return nil
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		return fmt.Errorf("devnet: node%d ignored SIGTERM for 10s and was killed", i)
	}
	var ee *exec.ExitError
	if n.err != nil && !errors.As(n.err, &ee) {
		return n.err
	}
	if n.err != nil {
		return fmt.Errorf("devnet: node%d exited with %v; log %s:\n%s", i, n.err, n.Log, tail(n.Log, 10))
	}
	return nil
}

// Kill ends node i with SIGKILL, as a crash would.
func (net *Net) Kill(i int) {
	n := net.Nodes[i]
	if n.Running() {
		n.cmd.Process.Kill()
		<-n.done
	}
}

// Stop ends every node, the bootstrap node last.
func (net *Net) Stop() error {
	var errs []error
	for i := len(net.Nodes) - 1; i >= 0; i-- {
		errs = append(errs, net.StopNode(i))
	}
	return errors.Join(errs...)
}

func tail(file string, lines int) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
