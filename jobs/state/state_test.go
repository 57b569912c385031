package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func baseSpec(t testing.TB, replicas int) spec.Spec {
	return spec.Spec{
		APIVersion: spec.APIVersion, Kind: spec.KindJob,
		Module:   spec.Module{CID: nameCID(t, "mod")},
		Inputs:   []spec.Input{{CID: nameCID(t, "in1")}, {CID: nameCID(t, "in2")}},
		Replicas: replicas,
	}
}

func TestNew(t *testing.T) {
	named := baseSpec(t, 3)
	named.Module = spec.Module{Name: "wc", Version: "1"}
	cases := []struct {
		name string
		p    Params
		err  bool
	}{
		{"ok", Params{ID: "j", Spec: baseSpec(t, 3)}, false},
		{"ok with equal module", Params{ID: "j", Spec: baseSpec(t, 3), Module: nameCID(t, "mod")}, false},
		{"resolved name", Params{ID: "j", Spec: named, Module: nameCID(t, "mod")}, false},
		{"unresolved name", Params{ID: "j", Spec: named}, true},
		{"other module", Params{ID: "j", Spec: baseSpec(t, 3), Module: nameCID(t, "x")}, true},
		{"no ID", Params{Spec: baseSpec(t, 3)}, true},
		{"long ID", Params{ID: strings.Repeat("x", 257), Spec: baseSpec(t, 3)}, true},
		{"bad UTF-8 ID", Params{ID: "\xff", Spec: baseSpec(t, 3)}, true},
		{"invalid spec", Params{ID: "j", Spec: spec.Spec{}}, true},
		{"quorum above replicas", Params{ID: "j", Spec: func() spec.Spec { s := baseSpec(t, 2); s.Quorum = 3; return s }()}, true},
	}
	for _, tc := range cases {
		j, err := New(tc.p, t0)
		if tc.err {
			if !errors.Is(err, ErrInvalidJob) {
				t.Errorf("%s: New = %v, want ErrInvalidJob", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: New: %v", tc.name, err)
			continue
		}
		if j.Phase != Queued || len(j.Slots) != 3 || j.Spec.Quorum != 2 || !j.Module.Equals(nameCID(t, "mod")) ||
			!j.QueueDeadline.Equal(t0.Add(spec.DefaultQueueTimeout)) || !j.Deadline.Equal(t0.Add(j.Spec.Resources.Timeouts.Total)) ||
			j.Policy != (Policy{}).WithDefaults() || len(j.History) != 1 {
			t.Errorf("%s: unexpected job %+v", tc.name, j)
		}
		if err := j.check(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestStepRejectsBadInput(t *testing.T) {
	if _, _, err := Step(Job{}, Submitted{}, t0); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("Step on zero job = %v", err)
	}
	j, err := New(Params{ID: "j", Spec: baseSpec(t, 1)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Step(j, nil, t0); !errors.Is(err, ErrUnexpectedEvent) {
		t.Errorf("Step with nil event = %v", err)
	}
	// A timeout with nothing due changes nothing.
	j2, acts, err := Step(j, Timeout{}, t0.Add(time.Second))
	if err != nil || len(acts) != 0 || !reflect.DeepEqual(j2, j) {
		t.Errorf("idle timeout: %v %v", acts, err)
	}
}

func TestRank(t *testing.T) {
	in1, in2 := nameCID(t, "in1"), nameCID(t, "in2")
	h, _ := mh.Sum([]byte("state test in2"), mh.SHA2_256, -1)
	in2v0 := cid.NewCidV0(h) // same multihash as in2, other CID
	inputs := []cid.Cid{in1, in2}
	c := func(node string, f func(*Candidate)) Candidate {
		x := Candidate{Node: node, FreeSlots: 1, Reputation: 0.5}
		if f != nil {
			f(&x)
		}
		return x
	}
	cases := []struct {
		name  string
		cands []Candidate
		want  []string
	}{
		{"node ID breaks ties", []Candidate{c("b", nil), c("a", nil), c("c", nil)}, []string{"a", "b", "c"}},
		{"locality first", []Candidate{
			c("a", func(x *Candidate) { x.FreeSlots, x.Reputation = 9, 1 }),
			c("b", func(x *Candidate) { x.Has = []cid.Cid{in1, in2} }),
			c("c", func(x *Candidate) { x.Has = []cid.Cid{in2} }),
		}, []string{"b", "c", "a"}},
		{"locality by multihash, duplicates and foreign CIDs ignored", []Candidate{
			c("a", func(x *Candidate) { x.Has = []cid.Cid{in1, in1, nameCID(t, "other"), nameCID(t, "more")} }),
			c("b", func(x *Candidate) { x.Has = []cid.Cid{in1, in2v0} }),
		}, []string{"b", "a"}},
		{"a node that would queue the job ranks after free ones, whatever it holds", []Candidate{
			c("a", func(x *Candidate) { x.FreeSlots, x.Load, x.Has = 0, 1.5, []cid.Cid{in1, in2} }),
			c("b", func(x *Candidate) { x.FreeSlots = 1 }),
			c("c", func(x *Candidate) { x.FreeSlots, x.Has = 0, nil }),
		}, []string{"b", "a", "c"}},
		{"then free slots", []Candidate{
			c("a", func(x *Candidate) { x.Load = 0 }),
			c("b", func(x *Candidate) { x.FreeSlots, x.Load = 4, 0.9 }),
		}, []string{"b", "a"}},
		{"then load", []Candidate{
			c("a", func(x *Candidate) { x.Load, x.Latency = 0.5, 0 }),
			c("b", func(x *Candidate) { x.Load, x.Latency = 0.2, time.Second }),
		}, []string{"b", "a"}},
		{"loads within a bucket tie, then latency", []Candidate{
			c("a", func(x *Candidate) { x.Load, x.Latency = 0.501, 90*time.Millisecond }),
			c("b", func(x *Candidate) { x.Load, x.Latency = 0.505, 10*time.Millisecond }),
		}, []string{"b", "a"}},
		{"latencies within a bucket tie, then reputation", []Candidate{
			c("a", func(x *Candidate) { x.Latency, x.Reputation = 11*time.Millisecond, 0.4 }),
			c("b", func(x *Candidate) { x.Latency, x.Reputation = 14*time.Millisecond, 0.9 }),
			c("c", func(x *Candidate) { x.Latency, x.Reputation = 15*time.Millisecond, 1 }),
		}, []string{"b", "a", "c"}},
		{"reputations within a bucket tie, then node ID", []Candidate{
			c("b", func(x *Candidate) { x.Reputation = 0.92 }),
			c("a", func(x *Candidate) { x.Reputation = 0.97 }),
			c("c", func(x *Candidate) { x.Reputation = math.NaN() }),
		}, []string{"a", "b", "c"}},
		{"quarantined left out", []Candidate{
			c("a", func(x *Candidate) { x.Quarantined, x.Has = true, inputs }),
			c("b", nil),
		}, []string{"b"}},
		{"NaN load ranks last", []Candidate{
			c("a", func(x *Candidate) { x.Load = math.NaN() }),
			c("b", func(x *Candidate) { x.Load = 1 }),
		}, []string{"b", "a"}},
		{"empty", nil, []string{}},
	}
	for _, tc := range cases {
		orig := append([]Candidate(nil), tc.cands...)
		got := []string{}
		for _, x := range Rank(inputs, tc.cands) {
			got = append(got, x.Node)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Rank = %v, want %v", tc.name, got, tc.want)
		}
		if len(orig) > 0 && !reflect.DeepEqual(orig[0].Node, tc.cands[0].Node) {
			t.Errorf("%s: Rank reordered its input", tc.name)
		}
	}
}

// TestRankForSpreads: candidates equal on every criterion are ordered by a
// hash of the job, so concurrent jobs pick different nodes; each job's
// order is deterministic, and the criteria still come first.
func TestRankForSpreads(t *testing.T) {
	var cands []Candidate
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		cands = append(cands, Candidate{Node: n, FreeSlots: 2, Reputation: 0.95})
	}
	first := map[string]int{}
	for i := 0; i < 200; i++ {
		seed := fmt.Sprintf("job-%d", i)
		got := RankFor(seed, nil, cands)
		again := RankFor(seed, nil, cands)
		if len(got) != 5 || !reflect.DeepEqual(got, again) {
			t.Fatalf("RankFor(%s) = %v, then %v", seed, got, again)
		}
		first[got[0].Node]++
	}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if first[n] < 10 {
			t.Errorf("node %s ranked first for %d of 200 jobs: %v", n, first[n], first)
		}
	}
	busy := slices.Clone(cands)
	busy[0].FreeSlots, busy[0].Load = 3, 0
	for i := 0; i < 20; i++ {
		if got := RankFor(fmt.Sprintf("job-%d", i), nil, busy); got[0].Node != "a" {
			t.Fatalf("free slots do not come before the spread: %v", got)
		}
	}
}

func TestDoubling(t *testing.T) {
	cases := []struct {
		base, max time.Duration
		n         int
		want      time.Duration
	}{
		{time.Second, time.Minute, 0, time.Second},
		{time.Second, time.Minute, 1, time.Second},
		{time.Second, time.Minute, 2, 2 * time.Second},
		{time.Second, time.Minute, 4, 8 * time.Second},
		{time.Second, time.Minute, 7, time.Minute},
		{time.Second, time.Minute, 1 << 30, time.Minute},
		{time.Duration(math.MaxInt64 / 3), time.Duration(math.MaxInt64), 5, time.Duration(math.MaxInt64)},
	}
	for _, tc := range cases {
		if got := doubling(tc.base, tc.max, tc.n); got != tc.want {
			t.Errorf("doubling(%v, %v, %d) = %v, want %v", tc.base, tc.max, tc.n, got, tc.want)
		}
	}
}

func TestWake(t *testing.T) {
	j, _ := New(Params{ID: "j", Spec: baseSpec(t, 1)}, t0)
	if w := j.Wake(); !w.Equal(j.QueueDeadline) {
		t.Errorf("queued: wake %v, want the queue deadline", w)
	}
	j, _, _ = Step(j, Submitted{}, t0)
	if w := j.Wake(); !w.Equal(j.ProvidersBy) || !w.Before(j.BidClose) {
		t.Errorf("bidding: wake %v, want the end of the provider lookup before the bid window close", w)
	}
	j, _, _ = Step(j, ProvidersFound{}, t0)
	if w := j.Wake(); !w.Equal(j.BidClose) {
		t.Errorf("bidding: wake %v, want the bid window close", w)
	}
	j.Phase = Failed
	if w := j.Wake(); !w.IsZero() {
		t.Errorf("failed: wake %v", w)
	}
}

func TestDecodeJobRejects(t *testing.T) {
	j, _ := New(Params{ID: "j", Spec: baseSpec(t, 2)}, t0)
	j, _, _ = Step(j, Submitted{}, t0)
	j, _, _ = Step(j, BidReceived{Bid: Candidate{Node: "a", FreeSlots: 1}}, t0)
	j, _, _ = Step(j, BidReceived{Bid: Candidate{Node: "b", FreeSlots: 1}}, t0)
	j, _, _ = Step(j, ProvidersFound{Providers: map[string][]cid.Cid{"a": {j.Spec.Inputs[0].CID}}}, t0)
	j, _, _ = Step(j, Timeout{}, j.Wake())
	if len(j.Executions) != 2 {
		t.Fatalf("setup: %d executions", len(j.Executions))
	}
	good, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeJob(good); err != nil {
		t.Fatalf("DecodeJob(good): %v", err)
	}
	edits := map[string]func(*Job){
		"no ID":              func(j *Job) { j.ID = "" },
		"unknown phase":      func(j *Job) { j.Phase = "sleeping" },
		"slot out of range":  func(j *Job) { j.Slots[0].Exec = 7 },
		"slot below -1":      func(j *Job) { j.Slots[0].Exec = -2 },
		"slot points astray": func(j *Job) { j.Slots[0].Exec, j.Slots[1].Exec = 1, 0 },
		"exec out of slots":  func(j *Job) { j.Executions[0].Slot = 5 },
		"duplicate node":     func(j *Job) { j.Executions[1].Node = j.Executions[0].Node },
		"unknown state":      func(j *Job) { j.Executions[0].State = "dreaming" },
		"orphan live exec":   func(j *Job) { j.Slots[0].Exec = -1 },
		"missing slot":       func(j *Job) { j.Slots = j.Slots[:1] },
		"policy not filled":  func(j *Job) { j.Policy.BidWindow = 0 },
		"no module":          func(j *Job) { j.Module = cid.Undef },
		"completed, no result": func(j *Job) {
			j.Phase = Completed
		},
		"revealed without receipt": func(j *Job) {
			j.Executions[0].State, j.Executions[0].Result = ExecRevealed, nameCID(t, "R1")
		},
		"zero attempt":       func(j *Job) { j.Executions[0].Attempt = 0 },
		"negative tries":     func(j *Job) { j.Slots[0].Attempts = -1 },
		"provider undefined": func(j *Job) { j.Providers["a"] = []cid.Cid{cid.Undef} },
		"provider no node":   func(j *Job) { j.Providers[""] = j.Providers["a"] },
		"provider no inputs": func(j *Job) { j.Providers["a"] = nil },
	}
	for name, edit := range edits {
		var c Job
		if err := json.Unmarshal(good, &c); err != nil {
			t.Fatal(err)
		}
		edit(&c)
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := DecodeJob(b); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%s: DecodeJob = %v, want ErrInvalidJob", name, err)
		}
		if _, _, err := Step(c, Timeout{}, t0); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%s: Step = %v, want ErrInvalidJob", name, err)
		}
	}
	for name, b := range map[string]string{
		"unknown field": strings.Replace(string(good), `"id":`, `"colour":1,"id":`, 1),
		"trailing data": string(good) + "{}",
		"bad spec":      strings.Replace(string(good), `"apiVersion":"ipdm/v1"`, `"apiVersion":"ipdm/v9"`, 1),
		"not json":      "nope",
	} {
		if _, err := DecodeJob([]byte(b)); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%s: DecodeJob = %v, want ErrInvalidJob", name, err)
		}
	}
}

func FuzzDecodeJob(f *testing.F) {
	j, _ := New(Params{ID: "j", Spec: baseSpec(f, 2)}, t0)
	seeds := []Job{j}
	for _, ev := range []Event{Submitted{}, BidReceived{Bid: Candidate{Node: "a", FreeSlots: 1}}, BidReceived{Bid: Candidate{Node: "b"}}, Timeout{}} {
		j, _, _ = Step(j, ev, j.Wake())
		seeds = append(seeds, j)
	}
	for _, s := range seeds {
		b, _ := json.Marshal(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := DecodeJob(b)
		if err != nil {
			return
		}
		// A decoded job must take any event without panicking.
		for _, ev := range []Event{Timeout{}, Submitted{}, BidReceived{Bid: Candidate{Node: "z"}}, Assigned{Node: "a"},
			Committed{Node: "a", Commitment: make([]byte, 32)}, Revealed{Node: "a"}, ExecutorFailed{Node: "b"},
			Declined{Node: "a"}, Declined{Node: "c", Busy: true}, ProvidersFound{Providers: map[string][]cid.Cid{"a": j.Spec.InputCIDs()}},
			BidsComplete{Round: j.BidRound}, Cancel{}} {
			Step(j, ev, j.Wake())
			Step(j, ev, t0)
		}
		j.Wake()
	})
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", MaxReasonLen) // 2 bytes each
	cases := []struct{ in, want string }{
		{"", "default"},
		{"short", "short"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{long, strings.Repeat("é", MaxReasonLen/2) + "…"},
		{"x" + long, "x" + strings.Repeat("é", (MaxReasonLen-1)/2) + "…"},
	}
	for _, tc := range cases {
		if got := clip(tc.in, "default"); got != tc.want {
			t.Errorf("clip(%.20q) = %.20q…, want %.20q…", tc.in, got, tc.want)
		}
	}
}

func TestBidIsCopiedAndTrimmed(t *testing.T) {
	j, _ := New(Params{ID: "j", Spec: baseSpec(t, 1)}, t0)
	j, _, _ = Step(j, Submitted{}, t0)
	in1 := nameCID(t, "in1")
	c := Candidate{Node: "a", Has: []cid.Cid{in1, nameCID(t, "unrelated"), in1, cid.Undef}, Labels: map[string]string{"k": "v"}, Roles: []string{"storage"}}
	j, _, err := Step(j, BidReceived{Bid: c}, t0)
	if err != nil {
		t.Fatal(err)
	}
	c.Labels["k"], c.Roles[0], c.Has[0] = "changed", "changed", nameCID(t, "changed")
	got := j.Bids[0]
	if len(got.Has) != 1 || !got.Has[0].Equals(in1) || got.Labels["k"] != "v" || got.Roles[0] != "storage" {
		t.Fatalf("stored bid %+v", got)
	}
	if _, _, err := Step(j, BidReceived{Bid: Candidate{Node: strings.Repeat("x", 200)}}, t0); !errors.Is(err, ErrUnexpectedEvent) {
		t.Fatalf("overlong node ID: %v", err)
	}
}
