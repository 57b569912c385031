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
// Live output: an executor keeps the last LiveOutputMax bytes of each
// stream of an execution while it runs (and outputGrace after), which the
// job's coordinator, and only it, pulls from an offset with Output.
//
// Throughput: job steps are written with group commit (persister): a step
// that sends anything out, ends or submits a job waits for a synced batch
// shared with every step queued meanwhile, the others are written in order
// without waiting. The first bid round of a job without inputs asks a
// sample of Config.BidFanout peers (a different one per job); jobs with
// inputs ask everyone and look the inputs' DHT providers up meanwhile
// (Config.Providers, cached per input). Executors queue assignments beyond
// their slots (Config.Queue) and decline past that, which the coordinator
// takes as a decline, not a failure. A commitment carries its opening,
// which the coordinator holds back until the job asks for reveals, saving a
// round trip. Executions reuse emptied working folders (execute.WorkDirs).
//
// Concurrency: a Service is safe for concurrent use. Start runs a ticker
// and a persister goroutine; every action and execution runs in a
// goroutine the Service owns; Close cancels them all, waits, and writes
// what is still queued.
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

	"github.com/ipdm/ipdm/jobs/execute"
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
	// Providers finds the nodes that DHT provider records name for c, for
	// data locality (p2p.Node.FindProviders); it returns what it found
	// when ctx ends. Nil: locality comes from the bids alone.
	Providers func(ctx context.Context, c cid.Cid) ([]string, error)
	// Pin pins an accepted result on the coordinator, fetching it, first
	// from holders (the agreeing executors, which stored it).
	Pin func(ctx context.Context, c cid.Cid, holders []string) error
	// Replicate asks n further storage nodes to pin c, trying prefer first;
	// it returns the nodes that acknowledged (publisher.pin_on).
	Replicate func(ctx context.Context, c cid.Cid, n int, prefer []string) []string
	// Store persists jobs and reputation.
	Store ds.Batching
	// Policy tunes scheduling (zero fields: jobs/state defaults).
	Policy state.Policy
	// Slots is how many executions run at once here. Default 2.
	Slots int
	// Queue is how many further assigned executions may wait here for a
	// free slot (bids then report no free slot and a load above 1);
	// assignments beyond it are declined. Default 4×Slots.
	Queue int
	// BidFanout is how many processing peers the first bid round of a job
	// without inputs asks (a different sample for every job). 0 means
	// 2×replicas+1; negative means every peer. Jobs with inputs, and later
	// rounds, ask every peer.
	BidFanout int
	// Processing is whether this node executes jobs at all.
	Processing bool
	// Labels go into this node's bids, for job label constraints.
	Labels map[string]string
	// Prefetch, when set, fetches a job's inputs to this node as soon as
	// an execution is accepted, before it has a slot; the execution starts
	// once both are there. Errors are the hook's to log: the run fetches
	// whatever is still missing.
	Prefetch func(ctx context.Context, sp spec.Spec, run RunInfo)
	// Runners execute jobs whose spec names a runner other than WASI
	// (spec.RunnerSegment: pipeline segments), keyed by runner name. Jobs
	// naming a runner missing here are declined at bidding.
	Runners map[string]Runner
	// Fault injects a misbehaviour, TEST ONLY: FaultLie makes this
	// executor report wrong results (so tests and operators can watch
	// detection work); FaultHideInputs makes its bids never claim local
	// inputs (so data locality can come only from DHT provider records).
	Fault string
	// MaxResidentJobs is how many ended jobs stay in memory (default
	// 10000); older ones are read back from the store when asked for by
	// ID, and List shows only the jobs in memory.
	MaxResidentJobs int
	// Reputation tunes the scorer.
	Reputation verify.ReputationConfig
	// TempDir is where executions work. Empty: the system's.
	TempDir string
	Logger  *slog.Logger
}

// Runner executes a job of its kind: it fetches what the spec names
// through the node, runs it and stores a UnixFS result directory. An error
// is a node failure (retried elsewhere); a module's own failure is an
// Outcome with Trap set, voted on like any result.
type Runner func(ctx context.Context, sp spec.Spec, run RunInfo) (execute.Outcome, error)

// RunInfo is what a Runner knows of an execution besides the spec.
type RunInfo struct {
	// Coordinator is the peer that assigned the job; it often holds the
	// job's inputs (a pipeline coordinator stores each segment's data), so
	// a runner may fetch from it directly before asking the network.
	Coordinator string
	// Lie asks for a wrong but well-formed result (the TEST ONLY fault).
	Lie bool
}

// Faults (Config.Fault), TEST ONLY.
const (
	FaultLie        = "lie"
	FaultHideInputs = "hide-inputs"
)

// Errors.
var (
	ErrUnknownJob = errors.New("unknown job")
	ErrClosed     = errors.New("job service closed")
)

// Service is the job network on one node.
type Service struct {
	cfg     Config
	log     *slog.Logger
	persist *persister
	dirs    *execute.WorkDirs

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	jobs      map[string]*jobEntry
	ended     []string            // jobs over and done, oldest first: evicted beyond MaxResidentJobs
	wakeable  map[string]struct{} // jobs whose Wake is set: the ticker's work
	scorer    *verify.Scorer
	running   map[string]*execution                 // executor side, by job ID
	active    int                                   // executions running or waiting for a slot
	slots     chan struct{}                         // one token per running execution
	pinnedOn  map[string][]string                   // coordinator side: where results were replicated
	held      map[string]map[string]*revealResponse // coordinator side: openings sent with commitments, by job and node
	provCache map[string]providerEntry              // coordinator side: provider lookups, by multihash
	modules   map[cid.Cid]struct{}                  // coordinator side: modules of submitted jobs
	closed    bool
}

// jobEntry is one job this node coordinates. Steps of a job are serialised
// by mu; job, changed and syncing are read and written under Service.mu
// (and written only while mu is held as well).
type jobEntry struct {
	mu      sync.Mutex
	job     state.Job
	changed chan struct{} // closed and replaced when the job changes
	syncing int           // steps taken but not yet durable
	retired bool          // queued for eviction from memory (Service.ended)
}

func newEntry(j state.Job) *jobEntry { return &jobEntry{job: j, changed: make(chan struct{})} }

func (e *jobEntry) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// New builds a service; Start begins serving.
func New(cfg Config) (*Service, error) {
	if cfg.Transport == nil || cfg.Store == nil || cfg.Runtime == nil || cfg.DAG == nil || cfg.Key == nil {
		return nil, errors.New("jobs: service: Transport, Store, Runtime, DAG and Key are required")
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 2
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4 * cfg.Slots
	}
	if cfg.MaxResidentJobs <= 0 {
		cfg.MaxResidentJobs = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Fault {
	case "", FaultLie, FaultHideInputs:
	default:
		return nil, fmt.Errorf("jobs: service: unknown fault %q (want %s or %s)", cfg.Fault, FaultLie, FaultHideInputs)
	}
	s := &Service{
		cfg: cfg, log: cfg.Logger.With("component", "jobs"),
		jobs: map[string]*jobEntry{}, wakeable: map[string]struct{}{}, running: map[string]*execution{},
		slots: make(chan struct{}, cfg.Slots), pinnedOn: map[string][]string{}, held: map[string]map[string]*revealResponse{},
		provCache: map[string]providerEntry{}, modules: map[cid.Cid]struct{}{},
		dirs: execute.NewWorkDirs(cfg.TempDir, 2*(cfg.Slots+cfg.Queue)),
	}
	s.scorer = verify.NewScorer(cfg.Reputation)
	return s, nil
}

var (
	syncPrefix    = ds.NewKey("/jobs") // everything the service stores
	jobsPrefix    = ds.NewKey("/jobs/state")
	reputationKey = ds.NewKey("/jobs/reputation")
)

// Start loads persisted jobs and reputation, registers the protocol
// handlers and starts the ticker that drives timeouts.
func (s *Service) Start(ctx context.Context) error {
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
	var loaded []state.Job
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
		loaded = append(loaded, j)
	}
	res.Close()
	// Oldest first, so that only the newest ended jobs stay in memory.
	slices.SortFunc(loaded, func(a, b state.Job) int { return a.Updated.Compare(b.Updated) })
	for _, j := range loaded {
		e := newEntry(j)
		s.jobs[j.ID] = e
		s.track(j)
		s.retire(j.ID, e)
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.persist = newPersister(s.cfg.Store)
	t := s.cfg.Transport
	t.Handle(protoBid, s.handleBid)
	t.Handle(protoAssign, s.handleAssign)
	t.Handle(protoCommit, s.handleCommit)
	t.Handle(protoReveal, s.handleReveal)
	t.Handle(protoStop, s.handleStop)
	t.Handle(protoOutput, s.handleOutput)
	s.wg.Add(1)
	go s.ticker()
	return nil
}

// Close stops every action and execution, waits for them and writes what
// is still queued for the store.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.cancel == nil || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return errors.Join(s.persist.close(), s.dirs.Close())
}

// goOwned runs f in a goroutine the service owns, unless the service is
// closing; it reports whether f runs.
func (s *Service) goOwned(f func(ctx context.Context)) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		f(s.ctx)
	}()
	return true
}

// tickEvery is how often deadlines are checked; sweepEvery how often
// finished executions are forgotten.
const (
	tickEvery  = 20 * time.Millisecond
	sweepEvery = time.Second
)

// track keeps the set of jobs the ticker looks at: those with a wake time.
// Call with s.mu held.
func (s *Service) track(j state.Job) {
	if j.Wake().IsZero() {
		delete(s.wakeable, j.ID)
	} else {
		s.wakeable[j.ID] = struct{}{}
	}
}

func (s *Service) ticker() {
	defer s.wg.Done()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			var due []string
			for id := range s.wakeable {
				if w := s.jobs[id].job.Wake(); !w.IsZero() && !now.Before(w) {
					due = append(due, id)
				}
			}
			if now.Sub(lastSweep) >= sweepEvery {
				lastSweep = now
				s.sweepExecutions(now)
			}
			s.mu.Unlock()
			for _, id := range due {
				s.step(id, state.Timeout{})
			}
		}
	}
}

// Submit starts a job for sp (defaults applied) running module. It returns
// the job ID once the job is durable; Wait follows it.
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
	s.jobs[id] = newEntry(j)
	if len(s.modules) < maxKnownModules {
		s.modules[j.Module] = struct{}{}
	}
	s.mu.Unlock()
	if err := s.step(id, state.Submitted{}); err != nil {
		return "", err
	}
	s.log.Info("job submitted", "job", id, "module", module, "replicas", j.Spec.Replicas)
	return id, nil
}

// step feeds ev to job id, persists the new state and dispatches the
// actions.
//
// Crash safety: a step that sends anything out (it has actions), ends the
// job or submits it is durable before its actions go out and before Wait
// reports it; the other steps are written in order without waiting, and
// the next durable step covers them. A coordinator killed at any point so
// resumes from a state at least as recent as every message it sent.
func (s *Service) step(id string, ev state.Event) error {
	s.mu.Lock()
	e, ok := s.jobs[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	e.mu.Lock()
	next, actions, err := state.Step(e.job, ev, time.Now())
	if err != nil {
		e.mu.Unlock()
		s.log.Debug("event refused", "job", id, "err", err)
		return err
	}
	_, submitted := ev.(state.Submitted)
	durable := len(actions) > 0 || next.Phase.Terminal() || submitted
	key, enc := jobsPrefix.ChildString(id), func() ([]byte, error) { return json.Marshal(next) }
	var done <-chan error
	var perr error
	if durable {
		done = s.persist.putSync(key, enc)
	} else {
		perr = s.persist.put(key, enc)
	}
	s.mu.Lock()
	e.job = next
	s.track(next)
	if next.Phase.Terminal() && next.Pending() == 0 {
		delete(s.held, id)
	}
	if done != nil {
		e.syncing++
	} else {
		e.notify()
		s.retire(id, e)
	}
	s.mu.Unlock()
	e.mu.Unlock()
	if done != nil {
		perr = <-done
		s.mu.Lock()
		e.syncing--
		e.notify()
		s.retire(id, e)
		s.mu.Unlock()
	}
	if perr != nil {
		s.log.Error("job not persisted", "job", id, "err", perr)
	}
	for _, a := range actions {
		s.dispatch(next, a)
	}
	return nil
}

// retire queues job id for eviction from memory once it is over and done
// (ended, durable, nothing more to wait for) and evicts the oldest such
// jobs beyond Config.MaxResidentJobs. Call with s.mu held.
func (s *Service) retire(id string, e *jobEntry) {
	if e.retired || e.syncing > 0 || !e.job.Phase.Terminal() || !e.job.Wake().IsZero() {
		return
	}
	e.retired = true
	s.ended = append(s.ended, id)
	for len(s.ended) > s.cfg.MaxResidentJobs {
		old := s.ended[0]
		s.ended = s.ended[1:]
		delete(s.jobs, old)
		delete(s.pinnedOn, old)
		delete(s.wakeable, old)
	}
}

// stored reads an evicted job back from the store.
func (s *Service) stored(id string) (state.Job, bool) {
	data, err := s.cfg.Store.Get(context.Background(), jobsPrefix.ChildString(id))
	if err != nil {
		return state.Job{}, false
	}
	j, err := state.DecodeJob(data)
	return j, err == nil && j.ID == id
}

// Get returns a copy of a job's state.
func (s *Service) Get(id string) (state.Job, bool) {
	s.mu.Lock()
	e, ok := s.jobs[id]
	var j state.Job
	if ok {
		j = e.job
	}
	s.mu.Unlock()
	if !ok {
		return s.stored(id)
	}
	return j, true
}

// List returns the jobs this node coordinates that are in memory (see
// Config.MaxResidentJobs), newest first.
func (s *Service) List() []state.Job {
	s.mu.Lock()
	out := make([]state.Job, 0, len(s.jobs))
	for _, e := range s.jobs {
		out = append(out, e.job)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b state.Job) int { return b.Created.Compare(a.Created) })
	return out
}

// Wait blocks until job id is completed, failed or cancelled (durably), or
// ctx ends.
func (s *Service) Wait(ctx context.Context, id string) (state.Job, error) {
	for {
		s.mu.Lock()
		e, ok := s.jobs[id]
		if !ok {
			s.mu.Unlock()
			if j, ok := s.stored(id); ok {
				return j, nil // only ended jobs leave memory
			}
			return state.Job{}, fmt.Errorf("%w: %s", ErrUnknownJob, id)
		}
		snapshot, ch, syncing := e.job, e.changed, e.syncing
		s.mu.Unlock()
		if snapshot.Phase.Terminal() && syncing == 0 {
			return snapshot, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return snapshot, ctx.Err()
		}
	}
}

// maxKnownModules bounds the set KnownModule answers from.
const maxKnownModules = 1024

// KnownModule reports whether a job running module c was submitted here
// since the service started, so that its resolution and validation, which
// depend only on the module's bytes, need not be repeated.
func (s *Service) KnownModule(c cid.Cid) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.modules[c]
	return ok
}

// Watch returns a copy of job id's state, a channel closed at its next
// change, and whether the state is final (ended and durable: Wait would
// return it).
func (s *Service) Watch(id string) (j state.Job, changed <-chan struct{}, final bool, err error) {
	s.mu.Lock()
	e, ok := s.jobs[id]
	if ok {
		defer s.mu.Unlock()
		return e.job, e.changed, e.job.Phase.Terminal() && e.syncing == 0, nil
	}
	s.mu.Unlock()
	if j, ok := s.stored(id); ok {
		return j, nil, true, nil // only ended jobs leave memory
	}
	return state.Job{}, nil, false, fmt.Errorf("%w: %s", ErrUnknownJob, id)
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

// Reputations reports the standing of every node this coordinator has
// judged.
func (s *Service) Reputations() map[string]verify.Standing {
	s.mu.Lock()
	sc := s.scorer
	s.mu.Unlock()
	now := time.Now()
	out := map[string]verify.Standing{}
	for _, n := range sc.Nodes() {
		out[n] = sc.Standing(n, now)
	}
	return out
}

// PinnedOn lists the nodes that pinned job id's result for publisher.pin_on.
func (s *Service) PinnedOn(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pinnedOn[id])
}
