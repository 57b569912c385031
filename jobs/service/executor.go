package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/jobs/execute"
	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/storage/unixfs"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipdm/ipdm/wasm"
)

// execution is one job this node runs for a coordinator.
type execution struct {
	coordinator string
	cancel      context.CancelFunc
	output      *liveOutput     // what the module writes, for the coordinator
	reveal      *revealResponse // set once committed
	// expires is when a committed execution is forgotten: its reveal can
	// no longer be wanted (the job's total deadline), or it was served
	// revealGrace ago.
	expires time.Time
}

// revealGrace is how long a served reveal stays available, for a
// coordinator whose answer got lost on the way.
const revealGrace = 30 * time.Second

// forget drops x, the execution of job id, unless another replaced it.
// Call with s.mu held.
func (s *Service) forget(id string, x *execution) {
	if s.running[id] == x {
		delete(s.running, id)
	}
}

// sweepExecutions forgets committed executions past their expiry. Call
// with s.mu held.
func (s *Service) sweepExecutions(now time.Time) {
	for id, x := range s.running {
		if x.reveal != nil && now.After(x.expires) {
			delete(s.running, id)
			continue
		}
		x.output.releaseEnded(now.Add(-outputGrace))
	}
}

// handleBid answers a coordinator's call for bids.
func (s *Service) handleBid(ctx context.Context, from string, msg []byte) ([]byte, error) {
	req, err := decode(msg, (*bidRequest).check)
	if err != nil {
		return nil, err
	}
	if !s.cfg.Processing {
		return encode(bidResponse{Decline: "this node does not offer the processing role"}), nil
	}
	s.mu.Lock()
	active := s.active
	_, dup := s.running[req.JobID]
	s.mu.Unlock()
	_, runnerOK := s.cfg.Runners[req.Spec.Runner]
	switch {
	case req.Spec.Runner != "" && req.Spec.Runner != spec.RunnerWASI && !runnerOK:
		return encode(bidResponse{Decline: fmt.Sprintf("runner %q not available on this node", req.Spec.Runner)}), nil
	case dup:
		return encode(bidResponse{Decline: "already running this job"}), nil
	case active >= s.cfg.Slots+s.cfg.Queue:
		return encode(bidResponse{Decline: s.busyReason(), Busy: true}), nil
	}
	bid := state.Candidate{
		Node: s.cfg.NodeID, FreeSlots: max(0, s.cfg.Slots-active),
		Load: float64(active) / float64(s.cfg.Slots), Labels: s.cfg.Labels,
	}
	if s.cfg.Has != nil && s.cfg.Fault != FaultHideInputs {
		for _, in := range req.Spec.InputCIDs() {
			if s.cfg.Has(ctx, in) {
				bid.Has = append(bid.Has, in)
			}
		}
	}
	return encode(bidResponse{Bid: &bid}), nil
}

func (s *Service) busyReason() string {
	return fmt.Sprintf("busy: all %d execution slots in use and %d executions queued", s.cfg.Slots, s.cfg.Queue)
}

// handleAssign accepts an execution (running it when a slot is free,
// queueing it otherwise) or declines it when the queue is full.
func (s *Service) handleAssign(ctx context.Context, from string, msg []byte) ([]byte, error) {
	req, err := decode(msg, (*assignRequest).check)
	if err != nil {
		return nil, err
	}
	if !s.cfg.Processing {
		return encode(assignResponse{Decline: "this node does not offer the processing role"}), nil
	}
	s.mu.Lock()
	if _, dup := s.running[req.JobID]; dup {
		s.mu.Unlock()
		return encode(assignResponse{Decline: "already running this job"}), nil
	}
	if s.active >= s.cfg.Slots+s.cfg.Queue {
		s.mu.Unlock()
		return encode(assignResponse{Decline: s.busyReason(), Busy: true}), nil
	}
	xctx, cancel := context.WithDeadline(s.ctx, req.Deadline)
	x := &execution{coordinator: from, cancel: cancel, output: newLiveOutput()}
	s.running[req.JobID] = x
	s.active++
	s.mu.Unlock()
	if !s.goOwned(func(context.Context) {
		defer cancel()
		s.execute(xctx, req, x)
	}) {
		cancel()
		s.mu.Lock()
		s.active--
		s.forget(req.JobID, x)
		s.mu.Unlock()
		return nil, ErrClosed
	}
	return encode(assignResponse{Accepted: true}), nil
}

// execute waits for a slot, runs the job and reports the commitment (or
// the failure) to the coordinator, retrying the report until the deadline.
func (s *Service) execute(ctx context.Context, req assignRequest, x *execution) {
	msg := commitMessage{JobID: req.JobID}
	start := time.Now()
	var (
		rev      *revealResponse
		failure  string
		jobErr   bool
		finished bool
	)
	// Inputs are fetched while the execution waits for a slot, so a
	// queued job's I/O overlaps the running jobs' computation.
	prefetched := make(chan struct{})
	if s.cfg.Prefetch == nil || !s.goOwned(func(context.Context) {
		defer close(prefetched)
		s.cfg.Prefetch(ctx, req.Spec, RunInfo{Coordinator: x.coordinator})
	}) {
		close(prefetched)
	}
	select {
	case s.slots <- struct{}{}:
		<-prefetched
		rev, failure, jobErr = s.run(ctx, req, x.coordinator, x.output)
		<-s.slots
		finished = true
	case <-ctx.Done():
	}
	x.output.end()
	s.mu.Lock()
	s.active--
	if !finished || ctx.Err() != nil {
		s.forget(req.JobID, x)
		s.mu.Unlock()
		s.log.Info("execution ended early", "job", req.JobID, "after", time.Since(start), "why", context.Cause(ctx))
		return
	}
	if failure != "" {
		msg.Failure, msg.JobError = failure, jobErr
		s.forget(req.JobID, x)
	} else {
		msg.Commitment = verify.Commit(rev.Result, rev.Salt, s.cfg.NodeID, req.JobID)
		msg.Reveal = rev
		x.reveal = rev
		x.expires = start.Add(req.Spec.WithDefaults().Resources.Timeouts.Total)
	}
	s.mu.Unlock()
	data := encode(msg)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		// Short attempts: a coordinator that restarted is back on new
		// addresses, which a fresh attempt looks up again.
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := s.cfg.Transport.Request(rctx, x.coordinator, protoCommit, data)
		cancel()
		if err == nil {
			return
		}
		s.log.Warn("commit", "job", req.JobID, "coordinator", x.coordinator, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// run executes the job. A failure string with jobErr set is the job's own
// fault (the same on every node); otherwise it is this node's.
func (s *Service) run(ctx context.Context, req assignRequest, coordinator string, live *liveOutput) (rev *revealResponse, failure string, jobErr bool) {
	if r := req.Spec.Runner; r != "" && r != spec.RunnerWASI {
		runner, ok := s.cfg.Runners[r]
		if !ok {
			return nil, fmt.Sprintf("runner %q not available on this node", r), false
		}
		out, err := runner(ctx, req.Spec.WithDefaults(), RunInfo{Coordinator: coordinator, Lie: s.cfg.Fault == FaultLie})
		if err != nil {
			return nil, r + ": " + err.Error(), false
		}
		return s.reveal(req, out, out.Result)
	}
	data, err := s.cfg.ModuleBytes(ctx, req.Module)
	if err != nil {
		return nil, "fetch module: " + err.Error(), false
	}
	mod, err := s.cfg.Runtime.Compile(ctx, data)
	if err != nil {
		if errors.Is(err, wasm.ErrInvalidModule) {
			return nil, "module: " + err.Error(), true
		}
		return nil, "compile: " + err.Error(), false
	}
	stdout, stderr := live.writers()
	out, err := execute.Execute(ctx, s.cfg.Runtime, s.cfg.DAG, s.cfg.Blocks, execute.Job{Spec: req.Spec.WithDefaults(), Module: mod},
		execute.Options{Dirs: s.dirs, Stdout: stdout, Stderr: stderr})
	if err != nil {
		return nil, "execute: " + err.Error(), false
	}
	result := out.Result
	if s.cfg.Fault == FaultLie {
		// TEST ONLY: claim a different result.
		lie, err := unixfs.ImportNode(ctx, s.cfg.Blocks, files.NewMapDirectory(map[string]files.Node{
			"lie": files.NewBytesFile([]byte(result.String())),
		}), unixfs.Options{})
		if err == nil {
			result = lie
		}
	}
	return s.reveal(req, out, result)
}

// reveal signs the receipt for an execution's result and prepares the
// answer to the coordinator's reveal request.
func (s *Service) reveal(req assignRequest, out execute.Outcome, result cid.Cid) (*revealResponse, string, bool) {
	salt, err := verify.NewSalt(rand.Reader)
	if err != nil {
		return nil, "salt: " + err.Error(), false
	}
	receipt, err := verify.Sign(verify.Receipt{
		JobID: req.JobID, ModuleCID: req.Module, InputCIDs: req.Spec.InputCIDs(), ResultCID: result,
		FuelUsed: out.FuelUsed, ExitCode: out.ExitCode, Error: out.Trap, NodeID: s.cfg.NodeID, Time: time.Now().UTC(),
	}, s.cfg.Key)
	if err != nil {
		return nil, "receipt: " + err.Error(), false
	}
	s.log.Info("executed", "job", req.JobID, "result", result, "exit", out.ExitCode, "trap", out.Trap, "fuel", out.FuelUsed, "took", out.Run.Duration)
	return &revealResponse{Result: result, Salt: salt, Receipt: &receipt}, "", false
}

// handleReveal opens this node's commitment for a job.
func (s *Service) handleReveal(ctx context.Context, from string, msg []byte) ([]byte, error) {
	req, err := decode(msg, (*revealRequest).check)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	x, ok := s.running[req.JobID]
	var rev *revealResponse
	if ok && x.coordinator == from && x.reveal != nil {
		rev = x.reveal
		// The job is being judged: its live output is no longer wanted.
		x.output.release()
		if grace := time.Now().Add(revealGrace); grace.Before(x.expires) {
			x.expires = grace
		}
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("no execution of job %s here", req.JobID)
	case x.coordinator != from:
		return nil, fmt.Errorf("job %s is coordinated by another node", req.JobID)
	case rev == nil:
		return nil, fmt.Errorf("job %s has not committed yet", req.JobID)
	}
	return encode(rev), nil
}

// handleStop cancels an execution.
func (s *Service) handleStop(ctx context.Context, from string, msg []byte) ([]byte, error) {
	req, err := decode(msg, (*stopRequest).check)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	x, ok := s.running[req.JobID]
	if ok && x.coordinator == from {
		x.cancel()
		delete(s.running, req.JobID)
	}
	s.mu.Unlock()
	if !ok || x.coordinator != from {
		return nil, fmt.Errorf("no execution of job %s for %s here", req.JobID, from)
	}
	s.log.Info("execution stopped", "job", req.JobID, "reason", req.Reason)
	return []byte("ok"), nil
}
