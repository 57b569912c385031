package service

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/verify"
)

// requestTimeout bounds one control exchange.
const requestTimeout = 10 * time.Second

// dispatch carries out one action of job j in an owned goroutine; results
// come back as events.
func (s *Service) dispatch(j state.Job, a state.Action) {
	switch a := a.(type) {
	case state.FindProviders:
		s.goOwned(func(ctx context.Context) { s.findProviders(ctx, j.ID, a) })
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
				if err := s.cfg.Pin(ctx, a.Result, a.Agreeing); err != nil {
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
		sc := s.scorer
		s.mu.Unlock()
		st, err := sc.Observe(a.Node, a.Observation, time.Now())
		if err == nil {
			// Ordered after the step that judged the node; the next synced
			// step makes it durable.
			err = s.persist.put(reputationKey, sc.Encode)
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
	asked = s.sampleBidders(j, a.Round, asked)
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
				ev = state.Declined{Node: p.ID, Reason: resp.Decline, Busy: resp.Busy}
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

// Provider lookups that found someone are cached per input (by multihash)
// for providerCacheTTL, at most providerCacheMax entries; each asks for at
// most maxProviders nodes.
const (
	providerCacheTTL = 30 * time.Second
	providerCacheMax = 4096
	maxProviders     = 20
)

type providerEntry struct {
	nodes []string
	at    time.Time
}

// findProviders looks up the providers of a job's inputs in parallel (from
// the cache when fresh) and delivers them to the job by a.Until.
func (s *Service) findProviders(ctx context.Context, jobID string, a state.FindProviders) {
	found := map[string][]cid.Cid{}
	if s.cfg.Providers != nil {
		ctx, cancel := context.WithDeadline(ctx, a.Until)
		defer cancel()
		results := make([][]string, len(a.Inputs))
		var wg sync.WaitGroup
		for i, in := range a.Inputs {
			if nodes, ok := s.cachedProviders(in, time.Now()); ok {
				results[i] = nodes
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				nodes, err := s.cfg.Providers(ctx, in)
				if err != nil {
					s.log.Debug("find providers", "job", jobID, "cid", in, "err", err)
					return
				}
				if len(nodes) > maxProviders {
					nodes = nodes[:maxProviders]
				}
				results[i] = nodes
				// Complete, non-empty answers only: "nobody" is often an
				// announcement still on its way.
				if ctx.Err() == nil && len(nodes) > 0 {
					s.cacheProviders(in, nodes, time.Now())
				}
			}()
		}
		wg.Wait()
		for i, nodes := range results {
			for _, n := range nodes {
				found[n] = append(found[n], a.Inputs[i])
			}
		}
	}
	if s.ctx.Err() == nil {
		s.step(jobID, state.ProvidersFound{Providers: found})
	}
}

func (s *Service) cachedProviders(c cid.Cid, now time.Time) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.provCache[string(c.Hash())]
	if !ok || now.Sub(e.at) > providerCacheTTL {
		return nil, false
	}
	return e.nodes, true
}

func (s *Service) cacheProviders(c cid.Cid, nodes []string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.provCache) >= providerCacheMax {
		for k, e := range s.provCache {
			if now.Sub(e.at) > providerCacheTTL {
				delete(s.provCache, k)
			}
		}
		if len(s.provCache) >= providerCacheMax {
			clear(s.provCache)
		}
	}
	s.provCache[string(c.Hash())] = providerEntry{nodes: nodes, at: now}
}

// sampleBidders picks whom the first bid round of a job without inputs
// asks: Config.BidFanout peers ordered by a hash of the job and peer ID, so
// that concurrent jobs ask (and then load) different peers. Jobs with
// inputs ask everyone, so that data locality sees every holder; so do later
// rounds, which follow a round that left slots empty.
func (s *Service) sampleBidders(j state.Job, round int, peers []Peer) []Peer {
	n := s.cfg.BidFanout
	if n == 0 {
		n = 2*j.Spec.Replicas + 1
	}
	if round > 1 || len(j.Spec.Inputs) > 0 || n < 0 || len(peers) <= n {
		return peers
	}
	key := func(p Peer) uint64 {
		h := fnv.New64a()
		h.Write([]byte(j.ID))
		h.Write([]byte{0})
		h.Write([]byte(p.ID))
		return h.Sum64()
	}
	slices.SortFunc(peers, func(a, b Peer) int { return cmp.Compare(key(a), key(b)) })
	return peers[:n]
}

func (s *Service) assign(ctx context.Context, j state.Job, a state.Assign) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req := encode(assignRequest{JobID: j.ID, Spec: j.Spec, Module: a.Module, Slot: a.Slot, Attempt: a.Attempt, Deadline: a.Deadline})
	out, err := s.cfg.Transport.Request(ctx, a.Node, protoAssign, req)
	if err != nil {
		s.step(j.ID, state.ExecutorFailed{Node: a.Node, Reason: "assign: " + err.Error()})
		return
	}
	resp, err := decode(out, (*assignResponse).check)
	switch {
	case err != nil:
		s.step(j.ID, state.ExecutorFailed{Node: a.Node, Reason: "assign: " + err.Error()})
	case resp.Decline != "":
		// Not a failure: the slot goes to the next bid at once.
		s.step(j.ID, state.Declined{Node: a.Node, Reason: resp.Decline, Busy: resp.Busy})
	default:
		s.step(j.ID, state.Assigned{Node: a.Node})
	}
}

// holdReveal keeps the opening an executor sent with its commitment until
// the job asks for reveals. It is not part of the job's state (nor shown
// by the API) before then.
func (s *Service) holdReveal(jobID, node string, r *revealResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[jobID]; !ok {
		return
	}
	held := s.held[jobID]
	if held == nil {
		held = map[string]*revealResponse{}
		s.held[jobID] = held
	}
	held[node] = r
}

// takeReveal removes and returns a held opening, or nil.
func (s *Service) takeReveal(jobID, node string) *revealResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.held[jobID][node]
	if r != nil {
		delete(s.held[jobID], node)
		if len(s.held[jobID]) == 0 {
			delete(s.held, jobID)
		}
	}
	return r
}

// requestReveal opens one executor's commitment: with the opening it sent
// along, or by asking it, retrying until the reveal deadline.
func (s *Service) requestReveal(ctx context.Context, jobID, node string, deadline time.Time) {
	if r := s.takeReveal(jobID, node); r != nil {
		s.step(jobID, state.Revealed{Node: node, Result: r.Result, Salt: r.Salt, Receipt: r.Receipt})
		return
	}
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
	if m.Reveal != nil {
		s.holdReveal(m.JobID, from, m.Reveal)
	}
	if err := s.step(m.JobID, ev); err != nil {
		if m.Reveal != nil {
			s.takeReveal(m.JobID, from)
		}
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
