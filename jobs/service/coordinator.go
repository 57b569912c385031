package service

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/verify"
)

// requestTimeout bounds one control exchange.
const requestTimeout = 10 * time.Second

// dispatch carries out one action of job j in an owned goroutine; results
// come back as events.
func (s *Service) dispatch(j state.Job, a state.Action) {
	switch a := a.(type) {
	case state.AskBids:
		s.askBids(j, a)
	case state.Assign:
		s.goOwned(func(ctx context.Context) { s.assign(ctx, j, a) })
	case state.RequestReveal:
		for _, node := range a.Nodes {
			s.goOwned(func(ctx context.Context) { s.requestReveal(ctx, j.ID, node, a.Deadline) })
		}
	case state.StopExecution:
		s.goOwned(func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, requestTimeout)
			defer cancel()
			if _, err := s.cfg.Transport.Request(ctx, a.Node, protoStop, encode(stopRequest{JobID: j.ID, Reason: a.Reason})); err != nil {
				s.log.Warn("stop execution", "job", j.ID, "node", a.Node, "err", err)
			}
		})
	case state.Accept:
		s.log.Info("job accepted", "job", j.ID, "result", a.Result, "agreeing", a.Agreeing, "dissenting", a.Dissenting)
		if s.cfg.Pin != nil {
			s.goOwned(func(ctx context.Context) {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
				defer cancel()
				if err := s.cfg.Pin(ctx, a.Result); err != nil {
					s.log.Warn("pin result", "job", j.ID, "result", a.Result, "err", err)
				}
			})
		}
		if n := j.Spec.Publisher.PinOn; n > 0 && s.cfg.Replicate != nil {
			s.goOwned(func(ctx context.Context) {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
				defer cancel()
				// Agreeing executors hold the result's blocks already.
				on := s.cfg.Replicate(ctx, a.Result, n, a.Agreeing)
				s.mu.Lock()
				s.pinnedOn[j.ID] = on
				s.mu.Unlock()
				s.log.Info("result replicated", "job", j.ID, "result", a.Result, "wanted", n, "pinned_on", on)
			})
		}
	case state.Fail:
		s.log.Info("job failed", "job", j.ID, "reason", a.Reason)
	case state.Verdict:
		s.mu.Lock()
		st, err := s.scorer.Observe(a.Node, a.Observation, time.Now())
		data, eerr := s.scorer.Encode()
		s.mu.Unlock()
		if err == nil && eerr == nil {
			if err = s.cfg.Store.Put(context.Background(), reputationKey, data); err == nil {
				err = s.cfg.Store.Sync(context.Background(), reputationKey)
			}
		}
		if err != nil {
			s.log.Warn("reputation", "node", a.Node, "err", err)
		}
		s.log.Info("verdict", "job", j.ID, "node", a.Node, "observation", a.Observation, "reason", a.Reason,
			"score", st.Score, "quarantined", st.Quarantined)
	case state.Reassign:
		// The machine assigns again at a.At, through a Timeout.
	}
}

// askBids asks every processing peer not excluded for a bid until the
// round closes.
func (s *Service) askBids(j state.Job, a state.AskBids) {
	req := encode(bidRequest{JobID: j.ID, Spec: j.Spec, Module: j.Module})
	var asked []Peer
	for _, p := range s.cfg.Peers() {
		if !slices.Contains(a.Exclude, p.ID) {
			asked = append(asked, p)
		}
	}
	// When every asked node has answered, the round closes without waiting
	// out the bid window.
	var remaining atomic.Int32
	remaining.Store(int32(len(asked)))
	for _, p := range asked {
		s.goOwned(func(ctx context.Context) {
			defer func() {
				if remaining.Add(-1) == 0 {
					s.step(j.ID, state.BidsComplete{Round: a.Round})
				}
			}()
			ctx, cancel := context.WithDeadline(ctx, a.Until)
			defer cancel()
			out, err := s.cfg.Transport.Request(ctx, p.ID, protoBid, req)
			var ev state.Event
			if err != nil {
				ev = state.Declined{Node: p.ID, Reason: "unreachable: " + err.Error()}
			} else if resp, derr := decode(out, (*bidResponse).check); derr != nil {
				ev = state.Declined{Node: p.ID, Reason: derr.Error()}
			} else if resp.Decline != "" {
				ev = state.Declined{Node: p.ID, Reason: resp.Decline}
			} else {
				bid := *resp.Bid
				bid.Node = p.ID // the authenticated sender, whatever it claims
				bid.Latency, bid.Roles = p.Latency, p.Roles
				s.mu.Lock()
				st := s.scorer.Standing(p.ID, time.Now())
				s.mu.Unlock()
				bid.Reputation, bid.Quarantined = st.Score, st.Quarantined
				ev = state.BidReceived{Bid: bid}
			}
			s.step(j.ID, ev)
		})
	}
}

func (s *Service) assign(ctx context.Context, j state.Job, a state.Assign) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req := encode(assignRequest{JobID: j.ID, Spec: j.Spec, Module: a.Module, Slot: a.Slot, Attempt: a.Attempt, Deadline: a.Deadline})
	if _, err := s.cfg.Transport.Request(ctx, a.Node, protoAssign, req); err != nil {
		s.step(j.ID, state.ExecutorFailed{Node: a.Node, Reason: "assign: " + err.Error()})
		return
	}
	s.step(j.ID, state.Assigned{Node: a.Node})
}

// requestReveal asks one executor to open its commitment, retrying until
// the reveal deadline.
func (s *Service) requestReveal(ctx context.Context, jobID, node string, deadline time.Time) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		out, err := s.cfg.Transport.Request(ctx, node, protoReveal, encode(revealRequest{JobID: jobID}))
		if err == nil {
			r, derr := decode(out, (*revealResponse).check)
			if derr != nil {
				s.step(jobID, state.ExecutorFailed{Node: node, Reason: "reveal: " + derr.Error()})
				return
			}
			s.step(jobID, state.Revealed{Node: node, Result: r.Result, Salt: r.Salt, Receipt: r.Receipt})
			return
		}
		s.log.Debug("reveal", "job", jobID, "node", node, "err", err)
		select {
		case <-ctx.Done():
			return // the machine times the reveal out
		case <-time.After(wait):
		}
	}
}

// handleCommit takes an executor's commitment (or failure) for a job this
// node coordinates.
func (s *Service) handleCommit(ctx context.Context, from string, msg []byte) ([]byte, error) {
	m, err := decode(msg, (*commitMessage).check)
	if err != nil {
		return nil, err
	}
	var ev state.Event = state.Committed{Node: from, Commitment: m.Commitment}
	if m.Failure != "" {
		ev = state.ExecutorFailed{Node: from, Reason: m.Failure, IsJobError: m.JobError}
	}
	if err := s.step(m.JobID, ev); err != nil {
		return nil, err
	}
	return []byte("ok"), nil
}

// Receipts returns the signed receipts of a job's revealed executions.
func (s *Service) Receipts(id string) ([]verify.Receipt, error) {
	j, ok := s.Get(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	var out []verify.Receipt
	for _, x := range j.Executions {
		if x.Receipt != nil {
			out = append(out, *x.Receipt)
		}
	}
	return out, nil
}
