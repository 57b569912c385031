package state

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipfs/go-cid"
)

// The simulation drives jobs through random networks of honest, lying,
// crashing, silent and declining nodes with random message delays, and
// checks safety and liveness properties on every run.

type behaviour int

const (
	honest   behaviour = iota
	liar               // commits and reveals a shared wrong result (collusion)
	crasher            // fails with a node error
	silent             // never answers an assignment
	decliner           // declines assignments
)

type message struct {
	at time.Time
	ev Event
}

type sim struct {
	t        *testing.T
	rng      *rand.Rand
	job      Job
	now      time.Time
	queue    []message
	nodes    map[string]behaviour
	keys     map[string]ed25519.PrivateKey
	jobError bool // the job itself errors: honest nodes report a job error
	stopped  map[string]bool
	verdicts map[string]int
}

func (s *sim) delay(max time.Duration) time.Time {
	return s.now.Add(time.Duration(s.rng.Int64N(int64(max))))
}

func (s *sim) send(at time.Time, ev Event) { s.queue = append(s.queue, message{at, ev}) }

func (s *sim) salt(node string) []byte {
	h := sha256.Sum256([]byte("sim salt " + node))
	return h[:]
}

func (s *sim) result(node string) string {
	if s.nodes[node] == liar {
		return "bad"
	}
	return "good"
}

func (s *sim) react(a Action) {
	t := s.t
	switch a := a.(type) {
	case AskBids:
		for _, n := range slices.Sorted(maps.Keys(s.nodes)) {
			if slices.Contains(a.Exclude, n) || s.rng.IntN(4) == 0 {
				continue
			}
			// Some bids arrive after the window; some nodes decline outright.
			at := s.delay(a.Until.Sub(s.now) + time.Second)
			if s.nodes[n] == decliner && s.rng.IntN(2) == 0 {
				s.send(at, Declined{Node: n, Reason: "busy"})
				continue
			}
			s.send(at, BidReceived{Bid: Candidate{Node: n, FreeSlots: s.rng.IntN(3), Load: s.rng.Float64(),
				Latency: time.Duration(s.rng.IntN(100)) * time.Millisecond, Reputation: s.rng.Float64()}})
		}
	case Assign:
		n := a.Node
		switch s.nodes[n] {
		case decliner:
			s.send(s.delay(time.Second), Declined{Node: n, Reason: "changed my mind"})
		case crasher:
			s.send(s.delay(time.Second), Assigned{Node: n})
			s.send(s.delay(10*time.Second), ExecutorFailed{Node: n, Reason: "crashed"})
		case silent:
		default:
			s.send(s.delay(time.Second), Assigned{Node: n})
			if s.jobError && s.nodes[n] == honest {
				s.send(s.delay(20*time.Second), ExecutorFailed{Node: n, Reason: "out of fuel", IsJobError: true})
				break
			}
			res := nameCID(t, s.result(n))
			s.send(s.delay(20*time.Second), Committed{Node: n, Commitment: verify.Commit(res, s.salt(n), n, s.job.ID)})
		}
	case RequestReveal:
		for _, n := range a.Nodes {
			if s.rng.IntN(10) == 0 {
				continue // lost reveal
			}
			res := nameCID(t, s.result(n))
			r, err := verify.Sign(verify.Receipt{JobID: s.job.ID, ModuleCID: s.job.Module, InputCIDs: s.job.Spec.InputCIDs(), ResultCID: res}, s.keys[n])
			if err != nil {
				t.Fatal(err)
			}
			s.send(s.delay(5*time.Second), Revealed{Node: n, Result: res, Salt: s.salt(n), Receipt: &r})
		}
	case StopExecution:
		s.stopped[a.Node] = true
	case Verdict:
		s.verdicts[a.Node]++
		if s.verdicts[a.Node] > 1 {
			t.Fatalf("second verdict for %s", a.Node)
		}
	case FindProviders:
		// Some lookups are lost; the others name a random node or two.
		if s.rng.IntN(4) == 0 {
			break
		}
		found := map[string][]cid.Cid{}
		for _, n := range slices.Sorted(maps.Keys(s.nodes)) {
			if s.rng.IntN(3) == 0 {
				found[n] = a.Inputs[:1+s.rng.IntN(len(a.Inputs))]
			}
		}
		s.send(s.delay(2*time.Second), ProvidersFound{Providers: found})
	case Reassign, Accept, Fail:
	default:
		t.Fatalf("unknown action %T", a)
	}
}

func (s *sim) step(ev Event) {
	t := s.t
	before, _ := json.Marshal(s.job)
	j, actions, err := Step(s.job, ev, s.now)
	after, _ := json.Marshal(s.job)
	if !bytes.Equal(before, after) {
		t.Fatal("Step modified its input")
	}
	if err != nil {
		if !errors.Is(err, ErrUnexpectedEvent) {
			t.Fatalf("Step(%T): %v", ev, err)
		}
		return
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if s.job, err = DecodeJob(b); err != nil {
		t.Fatalf("after %T: %v", ev, err)
	}
	for _, a := range actions {
		s.react(a)
	}
}

// dump describes the job for failure messages.
func (s *sim) dump() string {
	j := s.job
	out := fmt.Sprintf("phase %s, bid close %v, next bids %v\n", j.Phase, j.BidClose, j.NextBids)
	for _, e := range j.History {
		out += fmt.Sprintf("  %v %s %s %s\n", e.At.Sub(t0), e.Kind, e.Node, e.Detail)
	}
	for i, sl := range j.Slots {
		out += fmt.Sprintf("  slot %d: %+v\n", i, sl)
	}
	for _, x := range j.Executions {
		out += fmt.Sprintf("  exec %s slot %d %s deadline %v\n", x.Node, x.Slot, x.State, x.Deadline.Sub(t0))
	}
	return out
}

// runSim runs one simulated job and returns how it ended: "completed" or
// the kind of failure.
func runSim(t *testing.T, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 99))
	k := 1 + rng.IntN(5)
	q := spec.Majority(k)
	if rng.IntN(3) == 0 {
		q = 1 + rng.IntN(k)
	}
	sp := baseSpec(t, k)
	sp.Quorum = q
	sp.Resources.Timeouts = spec.Timeouts{Queue: 30 * time.Second, Execution: 40 * time.Second, Total: 5 * time.Minute}
	s := &sim{t: t, rng: rng, now: t0, nodes: map[string]behaviour{}, keys: map[string]ed25519.PrivateKey{}, stopped: map[string]bool{}, verdicts: map[string]int{},
		jobError: rng.IntN(8) == 0}
	allHonest := rng.IntN(3) == 0
	n := k + rng.IntN(5)
	liars := 0
	for i := 0; i < n; i++ {
		b := honest
		if !allHonest {
			b = []behaviour{honest, honest, honest, liar, crasher, silent, decliner}[rng.IntN(7)]
		}
		if b == liar {
			liars++
		}
		name := fmt.Sprintf("n%d", i)
		s.nodes[nodeID(t, name)] = b
		s.keys[nodeID(t, name)] = nodeKey(name)
	}
	var err error
	s.job, err = New(Params{ID: fmt.Sprintf("sim-%d", seed), Spec: sp, Policy: Policy{
		BidWindow: time.Second, BidRetry: time.Second, Backoff: time.Second, RevealTimeout: 10 * time.Second, MaxAttempts: 2,
	}}, s.now)
	if err != nil {
		t.Fatal(err)
	}
	s.step(Submitted{})
	for i := 0; i < 10000; i++ {
		// The next thing to happen: the earliest message, or the wake time.
		next, idx := s.job.Wake(), -1
		for qi, m := range s.queue {
			if next.IsZero() || m.at.Before(next) {
				next, idx = m.at, qi
			}
		}
		if next.IsZero() {
			break
		}
		if next.After(s.now) {
			s.now = next
		}
		if idx < 0 {
			s.step(Timeout{})
			if w := s.job.Wake(); !w.IsZero() && !w.After(s.now) {
				t.Fatalf("seed %d: after a timeout at %v the job still wakes at %v\n%s", seed, s.now.Sub(t0), w.Sub(t0), s.dump())
			}
			continue
		}
		m := s.queue[idx]
		s.queue = slices.Delete(s.queue, idx, idx+1)
		s.step(m.ev)
	}
	j := s.job
	desc := fmt.Sprintf("seed %d: K=%d Q=%d nodes=%v jobError=%v: %s %q", seed, k, q, s.nodes, s.jobError, j.Phase, j.Reason)

	// Liveness: every job ends, by its deadline.
	if !j.Phase.Terminal() {
		t.Fatalf("%s: did not end\n%s", desc, s.dump())
	}
	var ended time.Time
	for _, e := range j.History {
		if e.Kind == "fail" || e.Kind == "accept" {
			ended = e.At
		}
	}
	if ended.After(j.Deadline) {
		t.Fatalf("%s: ended at %v, after the deadline %v", desc, ended.Sub(t0), j.Deadline.Sub(t0))
	}
	// Safety: an accepted result has a quorum of agreeing, accepted reveals.
	if j.Phase == Completed {
		agree := 0
		for _, x := range j.Executions {
			if x.State == ExecAccepted {
				if !x.Result.Equals(j.Result) || x.Receipt == nil || !slices.Contains(j.Agreeing, x.Node) {
					t.Fatalf("%s: accepted execution %+v", desc, x)
				}
				agree++
			}
		}
		var dissent []string
		for _, x := range j.Executions {
			if x.State == ExecRejected || x.JobError {
				dissent = append(dissent, x.Node)
			}
		}
		slices.Sort(dissent)
		if !slices.Equal(dissent, j.Dissenting) {
			t.Fatalf("%s: dissenting %v, want %v", desc, j.Dissenting, dissent)
		}
		if agree < q || len(j.Agreeing) != agree {
			t.Fatalf("%s: %d accepted executions, %d agreeing, quorum %d", desc, agree, len(j.Agreeing), q)
		}
		if j.Result.Equals(nameCID(t, "bad")) && liars < q {
			t.Fatalf("%s: a wrong result won with %d liars", desc, liars)
		}
		if s.jobError && liars < q {
			t.Fatalf("%s: completed although honest nodes all hit the job error", desc)
		}
	}
	// With only honest nodes, enough of them, and a job that does not
	// error, the right result is accepted.
	if allHonest && !s.jobError && n >= k && j.Phase != Completed {
		// Bids are dropped at random; the job may legitimately starve.
		if j.Phase != Failed || (j.Reason[:5] != "queue" && j.Reason[:7] != "timeout" && j.Reason[:2] != "no") {
			t.Fatalf("%s: honest network did not complete", desc)
		}
	}
	if allHonest && !s.jobError && j.Phase == Completed && !j.Result.Equals(nameCID(t, "good")) {
		t.Fatalf("%s: honest network accepted %s", desc, j.Result)
	}
	if allHonest && s.jobError && j.Phase == Failed && j.Reason[:9] != "job error" && j.Reason[:5] != "queue" && j.Reason[:7] != "timeout" {
		t.Fatalf("%s: erroring job failed with %q", desc, j.Reason)
	}
	// Every judged execution got exactly one verdict, others none.
	for _, x := range j.Executions {
		want := 0
		switch {
		case x.State == ExecAccepted || x.State == ExecRejected || x.State == ExecTimedOut:
			want = 1
		case x.State == ExecFailed && !x.JobError:
			want = 1
		case x.State == ExecFailed && x.JobError && j.Phase == Completed:
			want = 1
		}
		if s.verdicts[x.Node] != want {
			t.Fatalf("%s: %s (%s) got %d verdicts, want %d", desc, x.Node, x.State, s.verdicts[x.Node], want)
		}
	}
	// Nothing is left running.
	for _, x := range j.Executions {
		if x.State.Active() {
			t.Fatalf("%s: %s still %s", desc, x.Node, x.State)
		}
	}
	if j.Phase == Completed {
		return "completed"
	}
	reason, _, _ := strings.Cut(j.Reason, ":")
	return reason
}

func TestSimulation(t *testing.T) {
	runs := 400
	if testing.Short() {
		runs = 100
	}
	outcomes := map[string]int{}
	for seed := uint64(1); seed <= uint64(runs); seed++ {
		outcomes[runSim(t, seed)]++
	}
	// The runs must exercise every way a job ends.
	for _, o := range []string{"completed", "job error", "no quorum", "not enough executors", "queue timeout", "timeout"} {
		if outcomes[o] == 0 {
			t.Errorf("no run ended with %q: %v", o, outcomes)
		}
	}
	t.Logf("outcomes of %d runs: %v", runs, outcomes)
}
