package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/boxo/files"

	"github.com/ipdm/ipdm/jobs/execute"
	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/storage/unixfs"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipdm/ipdm/wasm"
)

// execution is one job this node runs for a coordinator.
type execution struct {
	coordinator string
	cancel      context.CancelFunc
	reveal      *revealResponse // set once committed
}

func (s *Service) busy() int {
	n := 0
	for _, x := range s.running {
		if x.reveal == nil {
			n++
		}
	}
	return n
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
	free := s.cfg.Slots - s.busy()
	_, dup := s.running[req.JobID]
	s.mu.Unlock()
	switch {
	case dup:
		return encode(bidResponse{Decline: "already running this job"}), nil
	case free <= 0:
		return encode(bidResponse{Decline: fmt.Sprintf("busy: all %d execution slots in use", s.cfg.Slots)}), nil
	}
	bid := state.Candidate{Node: s.cfg.NodeID, FreeSlots: free, Load: float64(s.cfg.Slots-free) / float64(s.cfg.Slots), Labels: s.cfg.Labels}
	for _, in := range req.Spec.InputCIDs() {
		if s.cfg.Has != nil && s.cfg.Has(ctx, in) {
			bid.Has = append(bid.Has, in)
		}
	}
	return encode(bidResponse{Bid: &bid}), nil
}

// handleAssign starts an execution and acknowledges it.
func (s *Service) handleAssign(ctx context.Context, from string, msg []byte) ([]byte, error) {
	req, err := decode(msg, (*assignRequest).check)
	if err != nil {
		return nil, err
	}
	if !s.cfg.Processing {
		return nil, errors.New("this node does not offer the processing role")
	}
	s.mu.Lock()
	if _, dup := s.running[req.JobID]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("already running job %s", req.JobID)
	}
	if s.busy() >= s.cfg.Slots {
		s.mu.Unlock()
		return nil, fmt.Errorf("busy: all %d execution slots in use", s.cfg.Slots)
	}
	x := &execution{coordinator: from}
	s.running[req.JobID] = x
	s.mu.Unlock()
	s.goOwned(func(ctx context.Context) {
		ctx, cancel := context.WithDeadline(ctx, req.Deadline)
		s.mu.Lock()
		x.cancel = cancel
		s.mu.Unlock()
		defer cancel()
		s.execute(ctx, req, x)
	})
	return []byte("ok"), nil
}

// execute runs the job and reports the commitment (or the failure) to the
// coordinator, retrying the report until the deadline.
func (s *Service) execute(ctx context.Context, req assignRequest, x *execution) {
	msg := commitMessage{JobID: req.JobID}
	start := time.Now()
	rev, failure, jobErr := s.run(ctx, req)
	if ctx.Err() != nil {
		s.log.Info("execution ended early", "job", req.JobID, "after", time.Since(start), "why", context.Cause(ctx))
		s.mu.Lock()
		delete(s.running, req.JobID)
		s.mu.Unlock()
		return
	}
	if failure != "" {
		msg.Failure, msg.JobError = failure, jobErr
		s.mu.Lock()
		delete(s.running, req.JobID)
		s.mu.Unlock()
	} else {
		msg.Commitment = verify.Commit(rev.Result, rev.Salt, s.cfg.NodeID, req.JobID)
		s.mu.Lock()
		x.reveal = rev
		s.mu.Unlock()
	}
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
func (s *Service) run(ctx context.Context, req assignRequest) (rev *revealResponse, failure string, jobErr bool) {
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
	out, err := execute.Execute(ctx, s.cfg.Runtime, s.cfg.DAG, s.cfg.Blocks, execute.Job{Spec: req.Spec.WithDefaults(), Module: mod}, execute.Options{TempDir: s.cfg.TempDir})
	if err != nil {
		return nil, "execute: " + err.Error(), false
	}
	result := out.Result
	if s.cfg.Fault == "lie" {
		// TEST ONLY: claim a different result.
		lie, err := unixfs.ImportNode(ctx, s.cfg.Blocks, files.NewMapDirectory(map[string]files.Node{
			"lie": files.NewBytesFile([]byte(result.String())),
		}), unixfs.Options{})
		if err == nil {
			result = lie
		}
	}
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
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("no execution of job %s here", req.JobID)
	case x.coordinator != from:
		return nil, fmt.Errorf("job %s is coordinated by another node", req.JobID)
	case x.reveal == nil:
		return nil, fmt.Errorf("job %s has not committed yet", req.JobID)
	}
	return encode(x.reveal), nil
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
		if x.cancel != nil {
			x.cancel()
		}
		delete(s.running, req.JobID)
	}
	s.mu.Unlock()
	if !ok || x.coordinator != from {
		return nil, fmt.Errorf("no execution of job %s for %s here", req.JobID, from)
	}
	s.log.Info("execution stopped", "job", req.JobID, "reason", req.Reason)
	return []byte("ok"), nil
}
