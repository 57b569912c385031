// Package service runs the job network on one node. As coordinator it
// drives the jobs submitted to this node through the pure state machine of
// jobs/state — asking the processing peers of the capability index for
// bids, assigning executions, collecting commitments, requesting reveals,
// accepting the result a quorum agrees on and feeding verdicts into the
// reputation scorer — persisting every step so a restart resumes its jobs.
// As executor it bids for, runs (jobs/execute) and commits to the jobs
// other coordinators assign it.
//
// Every control message is one acknowledged request/response exchange on a
// direct libp2p stream (Transport); gossipsub is never used for control.
//
// Concurrency: a Service is safe for concurrent use. Start runs one ticker
// goroutine; every action and execution runs in a goroutine the Service
// owns; Close cancels them all and waits.
package service

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipdm/ipdm/wasm"
)

// Transport sends acknowledged requests to peers and serves them. from is
// the authenticated peer ID of the sender.
type Transport interface {
	Request(ctx context.Context, peerID, protocol string, msg []byte) ([]byte, error)
	Handle(protocol string, h func(ctx context.Context, from string, msg []byte) ([]byte, error))
}

// Peer is a processing peer the coordinator may ask for bids.
type Peer struct {
	ID      string
	Roles   []string
	Latency time.Duration
}

// BlockWriter stores result blocks.
type BlockWriter interface {
	PutMany(ctx context.Context, bs []blocks.Block) error
}

// Config wires a Service. Every field without a default is required.
type Config struct {
	NodeID    string
	Key       ed25519.PrivateKey
	Transport Transport
	// Peers lists the processing peers (this node included when it has
	// the role) from the capability index.
	Peers func() []Peer
	// Runtime runs modules; DAG fetches inputs (from the network when
	// needed); Blocks stores results; Has says whether a block is local
	// (for bids); ModuleBytes reads a module.
	Runtime     *wasm.Runtime
	DAG         ipld.DAGService
	Blocks      BlockWriter
	Has         func(ctx context.Context, c cid.Cid) bool
	ModuleBytes func(ctx context.Context, c cid.Cid) ([]byte, error)
	// Pin pins an accepted result on the coordinator (fetching it).
	Pin func(ctx context.Context, c cid.Cid) error
	// Replicate asks n further storage nodes to pin c, trying prefer first;
	// it returns the nodes that acknowledged (publisher.pin_on).
	Replicate func(ctx context.Context, c cid.Cid, n int, prefer []string) []string
	// Store persists jobs and reputation.
	Store ds.Batching
	// Policy tunes scheduling (zero fields: jobs/state defaults).
	Policy state.Policy
	// Slots is how many executions run at once here. Default 2.
	Slots int
	// Processing is whether this node executes jobs at all.
	Processing bool
	// Labels go into this node's bids, for job label constraints.
	Labels map[string]string
	// Fault "lie" makes this executor report a wrong result (TEST ONLY:
	// lets tests and operators watch detection work).
	Fault string
	// Reputation tunes the scorer.
	Reputation verify.ReputationConfig
	// TempDir is where executions work. Empty: the system's.
	TempDir string
	Logger  *slog.Logger
}

// Errors.
var (
	ErrUnknownJob = errors.New("unknown job")
	ErrClosed     = errors.New("job service closed")
)

// Service is the job network on one node.
type Service struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	jobs     map[string]*state.Job
	changed  map[string]chan struct{} // closed and replaced on every step
	scorer   *verify.Scorer
	running  map[string]*execution // executor side, by job ID
	pinnedOn map[string][]string   // coordinator side: where results were replicated
	startErr error
}

// New builds a service; Start begins serving.
func New(cfg Config) (*Service, error) {
	if cfg.Transport == nil || cfg.Store == nil || cfg.Runtime == nil || cfg.DAG == nil || cfg.Key == nil {
		return nil, errors.New("jobs: service: Transport, Store, Runtime, DAG and Key are required")
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Fault != "" && cfg.Fault != "lie" {
		return nil, fmt.Errorf("jobs: service: unknown fault %q (the only one is lie)", cfg.Fault)
	}
	s := &Service{
		cfg: cfg, log: cfg.Logger.With("component", "jobs"),
		jobs: map[string]*state.Job{}, changed: map[string]chan struct{}{}, running: map[string]*execution{}, pinnedOn: map[string][]string{},
	}
	s.scorer = verify.NewScorer(cfg.Reputation)
	return s, nil
}

var (
	jobsPrefix    = ds.NewKey("/jobs/state")
	reputationKey = ds.NewKey("/jobs/reputation")
)

// Start loads persisted jobs and reputation, registers the protocol
// handlers and starts the ticker that drives timeouts.
func (s *Service) Start(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if data, err := s.cfg.Store.Get(ctx, reputationKey); err == nil {
		if sc, err := verify.DecodeScorer(data, s.cfg.Reputation); err == nil {
			s.scorer = sc
		} else {
			s.log.Warn("reputation not restored", "err", err)
		}
	}
	res, err := s.cfg.Store.Query(ctx, dsq.Query{Prefix: jobsPrefix.String()})
	if err != nil {
		return err
	}
	for e := range res.Next() {
		if e.Error != nil {
			res.Close()
			return e.Error
		}
		j, err := state.DecodeJob(e.Value)
		if err != nil {
			s.log.Warn("stored job not restored", "key", e.Key, "err", err)
			continue
		}
		s.jobs[j.ID] = &j
		s.changed[j.ID] = make(chan struct{})
	}
	res.Close()
	t := s.cfg.Transport
	t.Handle(protoBid, s.handleBid)
	t.Handle(protoAssign, s.handleAssign)
	t.Handle(protoCommit, s.handleCommit)
	t.Handle(protoReveal, s.handleReveal)
	t.Handle(protoStop, s.handleStop)
	s.wg.Add(1)
	go s.ticker()
	return nil
}

// Close stops every action and execution and waits for them.
func (s *Service) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// go runs f in a goroutine the service owns.
func (s *Service) goOwned(f func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.ctx)
	}()
}

// tickEvery is how often deadlines are checked.
const tickEvery = 20 * time.Millisecond

func (s *Service) ticker() {
	defer s.wg.Done()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			var due []string
			for id, j := range s.jobs {
				if w := j.Wake(); !j.Phase.Terminal() && !w.IsZero() && !now.Before(w) {
					due = append(due, id)
				}
			}
			s.mu.Unlock()
			for _, id := range due {
				s.step(id, state.Timeout{})
			}
		}
	}
}

// Submit starts a job for sp (defaults applied) running module. It returns
// the job ID at once; Wait follows it.
func (s *Service) Submit(ctx context.Context, sp spec.Spec, module cid.Cid) (string, error) {
	if s.ctx == nil || s.ctx.Err() != nil {
		return "", ErrClosed
	}
	d, err := sp.Digest()
	if err != nil {
		return "", err
	}
	var nonce [6]byte
	rand.Read(nonce[:])
	id := "job-" + hex.EncodeToString(d[:6]) + "-" + hex.EncodeToString(nonce[:])
	j, err := state.New(state.Params{ID: id, Spec: sp, Module: module, Policy: s.cfg.Policy}, time.Now())
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.jobs[id] = &j
	s.changed[id] = make(chan struct{})
	s.mu.Unlock()
	if err := s.step(id, state.Submitted{}); err != nil {
		return "", err
	}
	s.log.Info("job submitted", "job", id, "module", module, "replicas", j.Spec.Replicas)
	return id, nil
}

// step feeds ev to job id, persists the new state and dispatches the
// actions.
func (s *Service) step(id string, ev state.Event) error {
	s.mu.Lock()
	j, ok := s.jobs[id]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	next, actions, err := state.Step(*j, ev, time.Now())
	if err != nil {
		s.mu.Unlock()
		s.log.Debug("event refused", "job", id, "err", err)
		return err
	}
	*j = next
	data, perr := json.Marshal(next)
	close(s.changed[id])
	s.changed[id] = make(chan struct{})
	s.mu.Unlock()
	if perr == nil {
		// Durable before any action goes out: a coordinator killed right
		// after this step resumes from it.
		key := jobsPrefix.ChildString(id)
		if perr = s.cfg.Store.Put(context.Background(), key, data); perr == nil {
			perr = s.cfg.Store.Sync(context.Background(), key)
		}
	}
	if perr != nil {
		s.log.Error("job not persisted", "job", id, "err", perr)
	}
	for _, a := range actions {
		s.dispatch(next, a)
	}
	return nil
}

// Get returns a copy of a job's state.
func (s *Service) Get(id string) (state.Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return state.Job{}, false
	}
	return *j, true
}

// List returns every job this node coordinates, newest first.
func (s *Service) List() []state.Job {
	s.mu.Lock()
	out := make([]state.Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, *j)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b state.Job) int { return b.Created.Compare(a.Created) })
	return out
}

// Wait blocks until job id is completed, failed or cancelled, or ctx ends.
func (s *Service) Wait(ctx context.Context, id string) (state.Job, error) {
	for {
		s.mu.Lock()
		j, ok := s.jobs[id]
		if !ok {
			s.mu.Unlock()
			return state.Job{}, fmt.Errorf("%w: %s", ErrUnknownJob, id)
		}
		snapshot, ch := *j, s.changed[id]
		s.mu.Unlock()
		if snapshot.Phase.Terminal() {
			return snapshot, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return snapshot, ctx.Err()
		}
	}
}

// Cancel stops a job and its executions.
func (s *Service) Cancel(id, reason string) error {
	if reason == "" {
		reason = "cancelled by the user"
	}
	return s.step(id, state.Cancel{Reason: reason})
}

// Reputation reports a node's standing.
func (s *Service) Reputation(node string) verify.Standing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scorer.Standing(node, time.Now())
}

// PinnedOn lists the nodes that pinned job id's result for publisher.pin_on.
func (s *Service) PinnedOn(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pinnedOn[id])
}
