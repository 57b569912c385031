package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/gateway"
	"github.com/ipdm/ipdm/jobs/service"
	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/repo"
	"github.com/ipdm/ipdm/storage/unixfs"
	"github.com/ipdm/ipdm/verify"
)

// transport adapts the libp2p node to the job service.
type transport struct{ h *p2p.Node }

func (t transport) Request(ctx context.Context, peerID, proto string, msg []byte) ([]byte, error) {
	return t.h.Request(ctx, peerID, proto, msg)
}

func (t transport) Handle(proto string, h func(ctx context.Context, from string, msg []byte) ([]byte, error)) {
	t.h.Handle(proto, h)
}

// newJobService wires the job network for an online node.
func (n *Node) newJobService(opts Options) (*service.Service, error) {
	tmp := filepath.Join(n.repo.Path(), "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	processing := false
	for _, r := range n.cfg.Roles {
		processing = processing || r == repo.RoleProcessing
	}
	return service.New(service.Config{
		NodeID:      n.host.ID(),
		Key:         n.repo.Key(),
		Transport:   transport{n.host},
		Peers:       n.processingPeers,
		Runtime:     n.wasm,
		DAG:         n.dag,
		Blocks:      writer{n.bserv},
		Has:         func(ctx context.Context, c cid.Cid) bool { ok, _ := n.blocks.Has(ctx, c); return ok },
		ModuleBytes: n.ModuleBytes,
		Providers: func(ctx context.Context, c cid.Cid) ([]string, error) {
			return n.host.FindProviders(ctx, c, 20)
		},
		Pin:        n.pinResult,
		Prefetch:   n.prefetchInputs,
		Replicate:  n.replicate,
		Store:      n.meta,
		Policy:     state.Policy{BidWindow: n.cfg.BidWindow},
		Processing: processing,
		Labels:     n.cfg.Labels,
		Fault:      opts.Fault,
		Runners:    map[string]service.Runner{spec.RunnerSegment: n.runSegment},
		// Executions are CPU-bound: one slot per core this process may use.
		Slots:   max(runtime.GOMAXPROCS(0), 1),
		TempDir: tmp,
		Logger:  n.log,
	})
}

// processingPeers lists the peers of the capability index that offer the
// processing role, this node included.
func (n *Node) processingPeers() []service.Peer {
	latency := map[string]time.Duration{}
	for _, p := range n.host.Peers() {
		latency[p.ID] = p.Latency
	}
	var out []service.Peer
	for _, e := range n.host.CapabilityEntries() {
		if !e.Advert.HasRole(repo.RoleProcessing) {
			continue
		}
		out = append(out, service.Peer{ID: e.Advert.PeerID, Roles: e.Advert.Roles, Latency: latency[e.Advert.PeerID]})
	}
	return out
}

// JobSubmit decodes a job spec (JSON or YAML), resolves its module and
// starts the job; with wait it returns once the job has ended.
func (n *Node) JobSubmit(ctx context.Context, specBytes []byte, wait bool) (api.Job, error) {
	if n.jobs == nil {
		return api.Job{}, ErrOffline
	}
	sp, err := spec.Decode(specBytes)
	if err != nil {
		return api.Job{}, gateway.BadRequest(err)
	}
	// A module named by CID that an earlier job here ran was resolved and
	// validated then; its bytes have not changed since.
	mc := sp.Module.CID
	if !mc.Defined() || !n.jobs.KnownModule(mc) {
		ref := sp.Module.CID.String()
		if !sp.Module.CID.Defined() {
			ref = sp.Module.Name + "@" + sp.Module.Version
		}
		mod, err := n.ModuleResolve(ctx, ref)
		if err != nil {
			return api.Job{}, err
		}
		mc, _ = cid.Decode(mod.CID)
	}
	id, err := n.jobs.Submit(ctx, sp, mc)
	if err != nil {
		return api.Job{}, gateway.BadRequest(err)
	}
	if wait {
		if _, err := n.jobs.Wait(ctx, id); err != nil {
			return api.Job{}, err
		}
	}
	return n.JobDescribe(ctx, id)
}

// JobDescribe reports a job, with the accepted result's exit code and
// stdout.
func (n *Node) JobDescribe(ctx context.Context, id string) (api.Job, error) {
	if n.jobs == nil {
		return api.Job{}, ErrOffline
	}
	j, ok := n.jobs.Get(id)
	if !ok {
		return api.Job{}, gateway.NotFound(fmt.Errorf("%w: %s", service.ErrUnknownJob, id))
	}
	out := jobSummary(j, n.jobs.Reputation)
	out.PinnedOn = n.jobs.PinnedOn(id)
	for _, h := range j.History {
		out.History = append(out.History, api.JobEvent{At: h.At, Kind: h.Kind, Node: h.Node, Detail: h.Detail})
	}
	if j.Result.Defined() {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if b, err := n.resultFile(rctx, j.Result, "exit_code", 32); err == nil {
			var code uint32
			if _, err := fmt.Sscan(string(b), &code); err == nil {
				out.ExitCode = &code
			}
		}
		if b, err := n.resultFile(rctx, j.Result, "stdout", 64<<10); err == nil {
			out.Stdout = string(b)
		}
	}
	return out, nil
}

// jobSummary describes j, with each executor's current standing.
func jobSummary(j state.Job, standing func(node string) verify.Standing) api.Job {
	out := api.Job{
		ID: j.ID, State: string(j.Phase), Reason: j.Reason, Module: j.Module.String(),
		Replicas: j.Spec.Replicas, Quorum: j.Spec.Quorum, Agreeing: j.Agreeing, Dissenting: j.Dissenting,
		Created: j.Created, Updated: j.Updated, Executions: []api.JobExecution{},
	}
	if j.Result.Defined() {
		out.Result = j.Result.String()
	}
	for _, x := range j.Executions {
		st := standing(x.Node)
		e := api.JobExecution{
			Node: x.Node, State: string(x.State), Attempt: x.Attempt, Reason: x.Reason,
			Reputation: st.Score, Quarantined: st.Quarantined,
		}
		if x.Result.Defined() {
			e.Result = x.Result.String()
		}
		out.Executions = append(out.Executions, e)
	}
	return out
}

// resultFile reads one small file of a result directory.
func (n *Node) resultFile(ctx context.Context, root cid.Cid, name string, limit int64) ([]byte, error) {
	nd, err := n.dag.Get(ctx, root)
	if err != nil {
		return nil, err
	}
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return nil, errors.New("result is not a directory")
	}
	lnk, err := pn.GetNodeLink(name)
	if err != nil {
		return nil, err
	}
	f, err := unixfs.Open(ctx, n.dag, lnk.Cid)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// JobList lists the jobs this node coordinates.
func (n *Node) JobList(ctx context.Context) ([]api.Job, error) {
	if n.jobs == nil {
		return nil, ErrOffline
	}
	var out []api.Job
	for _, j := range n.jobs.List() {
		out = append(out, jobSummary(j, n.jobs.Reputation))
	}
	return out, nil
}

// JobLogs streams a job's log: its history (as it happens, with follow)
// and, with follow while the job runs, its executions' live output (pulled
// from the executors every liveOutputPoll); once the job has ended, the
// accepted result's stdout and stderr in chunks (less the prefix that live
// output of an agreeing executor already showed), then an "end" entry.
// Memory is bounded: a few offsets per execution, one pulled answer at a
// time; it stops when ctx ends (the client went away).
func (n *Node) JobLogs(ctx context.Context, id string, follow bool, emit func(api.JobLogEntry) error) error {
	if n.jobs == nil {
		return ErrOffline
	}
	next := 0 // absolute index of the next history entry to emit
	live := liveTails{}
	for {
		j, changed, final, err := n.jobs.Watch(id)
		if err != nil {
			return gateway.NotFound(err)
		}
		for i, h := range j.History {
			if j.HistoryDropped+i < next {
				continue
			}
			ev := api.JobEvent{At: h.At, Kind: h.Kind, Node: h.Node, Detail: h.Detail}
			if err := emit(api.JobLogEntry{Kind: "event", At: h.At, Event: &ev}); err != nil {
				return err
			}
		}
		next = j.HistoryDropped + len(j.History)
		if final {
			if j.Result.Defined() {
				for i, stream := range []string{"stdout", "stderr"} {
					if err := n.emitResultFile(ctx, j.Result, stream, live.shown(j.Agreeing, i), emit); err != nil {
						return err
					}
				}
			}
			return emit(api.JobLogEntry{Kind: "end", At: j.Updated, State: string(j.Phase), Reason: j.Reason})
		}
		if !follow {
			return nil
		}
		var poll *time.Timer
		if live.pull(ctx, n.jobs, j) {
			if err := live.emit(emit); err != nil {
				return err
			}
			poll = time.NewTimer(liveOutputPoll)
		}
		var tick <-chan time.Time
		if poll != nil {
			tick = poll.C
		}
		select {
		case <-changed:
		case <-tick:
		case <-ctx.Done():
		}
		if poll != nil {
			poll.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// liveOutputPoll is how often a followed job's executions are asked for
// their output; liveOutputTimeout bounds one ask.
const (
	liveOutputPoll    = 200 * time.Millisecond
	liveOutputTimeout = 2 * time.Second
)

// liveTails follows the live output of a job's executions, by node and
// attempt.
type liveTails map[liveKey]*liveTail

type liveKey struct {
	node    string
	attempt int
}

// liveTail is where one execution's streams (stdout, stderr) are at.
type liveTail struct {
	next  [2]int64 // offsets to ask for next
	shown [2]int64 // length of the prefix emitted without a gap
	ended bool     // the run is over and everything kept was pulled
	// pending is the last answer, to emit.
	pending *service.LiveOutput
}

// pull asks each running (or just committed) execution of j for its new
// output and reports whether any may still produce some.
func (l liveTails) pull(ctx context.Context, jobs *service.Service, j state.Job) bool {
	more := false
	for _, x := range j.Executions {
		if !x.State.Active() && x.State != state.ExecCommitted {
			continue
		}
		k := liveKey{x.Node, x.Attempt}
		t := l[k]
		if t == nil {
			t = &liveTail{}
			l[k] = t
		}
		if t.ended {
			continue
		}
		more = true
		rctx, cancel := context.WithTimeout(ctx, liveOutputTimeout)
		out, err := jobs.Output(rctx, j.ID, x.Node, t.next[0], t.next[1])
		cancel()
		if err != nil {
			// Not there yet (still being assigned) or no longer: the
			// accepted result has the output for good.
			if x.State == state.ExecCommitted {
				t.ended = true
			}
			continue
		}
		t.pending = &out
		if out.Ended && len(out.Stdout.Data) == 0 && len(out.Stderr.Data) == 0 {
			t.ended = true // the run is over and everything kept was pulled
		}
	}
	return more
}

// emit sends the pulled output in chunks of at most api.JobLogChunk bytes.
func (l liveTails) emit(emit func(api.JobLogEntry) error) error {
	for k, t := range l {
		out := t.pending
		if out == nil {
			continue
		}
		t.pending = nil
		now := time.Now()
		for i, c := range []service.OutputChunk{out.Stdout, out.Stderr} {
			kind := [2]string{"stdout", "stderr"}[i]
			for off := 0; off < len(c.Data); off += api.JobLogChunk {
				data := c.Data[off:min(len(c.Data), off+api.JobLogChunk)]
				if err := emit(api.JobLogEntry{Kind: kind, At: now, Node: k.node, Offset: c.From + int64(off), Data: data}); err != nil {
					return err
				}
			}
			if c.From == t.shown[i] {
				t.shown[i] = c.Next()
			}
			t.next[i] = max(t.next[i], c.Next())
		}
	}
	return nil
}

// shown is the longest prefix of stream i (0 stdout, 1 stderr) that live
// output of one of nodes showed without a gap.
func (l liveTails) shown(nodes []string, i int) int64 {
	var n int64
	for k, t := range l {
		if slices.Contains(nodes, k.node) {
			n = max(n, t.shown[i])
		}
	}
	return n
}

// emitResultFile sends one file of a result directory in chunks, from
// byte skip on.
func (n *Node) emitResultFile(ctx context.Context, root cid.Cid, name string, skip int64, emit func(api.JobLogEntry) error) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nd, err := n.dag.Get(rctx, root)
	if err != nil {
		return err
	}
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return errors.New("result is not a directory")
	}
	lnk, err := pn.GetNodeLink(name)
	if err != nil {
		return nil // no such stream in this result
	}
	f, err := unixfs.Open(rctx, n.dag, lnk.Cid)
	if err != nil {
		return err
	}
	defer f.Close()
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, f, skip); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	buf := make([]byte, api.JobLogChunk)
	for {
		k, err := io.ReadFull(f, buf)
		if k > 0 {
			if eerr := emit(api.JobLogEntry{Kind: name, Data: slices.Clone(buf[:k])}); eerr != nil {
				return eerr
			}
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return err
		}
	}
}

// JobReputation reports this coordinator's view of every executor it has
// judged or can ask for bids: score and quarantine, sorted by node ID.
func (n *Node) JobReputation(ctx context.Context) ([]api.NodeReputation, error) {
	if n.jobs == nil {
		return nil, ErrOffline
	}
	standings := n.jobs.Reputations()
	peers := map[string]bool{}
	for _, p := range n.processingPeers() {
		peers[p.ID] = true
		if _, ok := standings[p.ID]; !ok {
			standings[p.ID] = n.jobs.Reputation(p.ID)
		}
	}
	out := make([]api.NodeReputation, 0, len(standings))
	for _, id := range slices.Sorted(maps.Keys(standings)) {
		st := standings[id]
		r := api.NodeReputation{
			Node: id, Score: st.Score, Agreements: st.Agreements, Disagreements: st.Disagreements,
			Failures: st.Failures, Quarantined: st.Quarantined, Quarantines: st.Quarantines, Peer: peers[id],
		}
		if !st.Until.IsZero() {
			until := st.Until
			r.QuarantinedUntil = &until
		}
		out = append(out, r)
	}
	return out, nil
}

// JobCancel cancels a job; its executions are stopped.
func (n *Node) JobCancel(ctx context.Context, id string) (api.Job, error) {
	if n.jobs == nil {
		return api.Job{}, ErrOffline
	}
	if _, ok := n.jobs.Get(id); !ok {
		return api.Job{}, gateway.NotFound(fmt.Errorf("%w: %s", service.ErrUnknownJob, id))
	}
	if err := n.jobs.Cancel(id, "cancelled by the user"); err != nil {
		return api.Job{}, gateway.BadRequest(err)
	}
	return n.JobDescribe(ctx, id)
}

// JobReceipts returns the signed receipts of a job's executions.
func (n *Node) JobReceipts(ctx context.Context, id string) ([]verify.Receipt, error) {
	if n.jobs == nil {
		return nil, ErrOffline
	}
	rs, err := n.jobs.Receipts(id)
	if errors.Is(err, service.ErrUnknownJob) {
		return nil, gateway.NotFound(err)
	}
	return rs, err
}

// protoPin asks a storage node to fetch and pin a DAG (a job result).
const protoPin = "/ipdm/pin/1.0.0"

// handlePin pins a CID a peer asks this node to keep, if it offers the
// storage role and has room.
func (n *Node) handlePin(ctx context.Context, from string, msg []byte) ([]byte, error) {
	if !slices.Contains(n.cfg.Roles, repo.RoleStorage) {
		return nil, errors.New("this node does not offer the storage role")
	}
	c, err := cid.Decode(string(msg))
	if err != nil {
		return nil, fmt.Errorf("pin: %w", err)
	}
	if max := n.cfg.StorageMaxBytes; max > 0 {
		// Checked before the fetch (a full node says so at once) and during
		// it, block by block: the pin is abandoned, and what it stored
		// removed, rather than pass the cap.
		if st, err := n.blocks.Stat(ctx); err == nil && st.Bytes >= max {
			return nil, fmt.Errorf("%w: %d of %d bytes used", ErrStorageFull, st.Bytes, max)
		}
		if err := n.pinCapped(ctx, c, max); err != nil {
			return nil, fmt.Errorf("pin %s: %w", c, err)
		}
	} else if _, err := n.PinAdd(ctx, c, true); err != nil {
		return nil, err
	}
	n.log.Info("pinned for peer", "cid", c, "peer", from)
	return []byte("ok"), nil
}

// prefetchInputs fetches the inputs of an accepted execution that this
// node lacks straight from the job's coordinator (p2p.ProtoDAG), which
// often holds them (a pipeline coordinator stored each segment's data).
// What the coordinator lacks is left to bitswap when the job runs.
func (n *Node) prefetchInputs(ctx context.Context, sp spec.Spec, run service.RunInfo) {
	if n.host == nil || run.Coordinator == "" || run.Coordinator == n.host.ID() {
		return
	}
	for _, c := range sp.InputCIDs() {
		if has, err := n.blocks.Has(ctx, c); err != nil || has {
			continue
		}
		if _, err := n.host.FetchDAG(ctx, run.Coordinator, c, 0); err != nil {
			n.log.Debug("prefetch input", "cid", c, "from", run.Coordinator, "err", err)
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// pinResult pins an accepted job result here. Its blocks come first
// straight from one of the executors that agreed on it (p2p.ProtoDAG, one
// round trip); the pin then fetches whatever is still missing by bitswap.
func (n *Node) pinResult(ctx context.Context, c cid.Cid, holders []string) error {
	if has, err := n.blocks.Has(ctx, c); err == nil && !has && n.host != nil {
		for _, h := range holders {
			_, err := n.host.FetchDAG(ctx, h, c, 0)
			if err == nil {
				break
			}
			n.log.Debug("job result: direct fetch failed", "result", c, "from", h, "err", err)
		}
	}
	_, err := n.PinAdd(ctx, c, true)
	return err
}

// replicate asks up to want storage peers (prefer first, never this node)
// to pin c and returns those that did.
func (n *Node) replicate(ctx context.Context, c cid.Cid, want int, prefer []string) []string {
	var order []string
	seen := map[string]bool{n.host.ID(): true}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			order = append(order, id)
		}
	}
	storage := map[string]bool{}
	for _, e := range n.host.CapabilityEntries() {
		if e.Advert.HasRole(repo.RoleStorage) {
			storage[e.Advert.PeerID] = true
		}
	}
	for _, id := range prefer {
		if storage[id] {
			add(id)
		}
	}
	for id := range storage {
		add(id)
	}
	var done []string
	for _, id := range order {
		if len(done) == want {
			break
		}
		if _, err := n.host.Request(ctx, id, protoPin, []byte(c.String())); err != nil {
			n.log.Warn("replicate", "cid", c, "peer", id, "err", err)
			continue
		}
		done = append(done, id)
	}
	return done
}
