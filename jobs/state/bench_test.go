package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/verify"
	"github.com/ipfs/go-cid"
)

// BenchmarkLifecycle runs a whole K=5 job (submit, providers, 8 bids, assignment, 5
// commitments, 5 reveals with signed receipts) through Step, against the
// baseline a coordinator pays anyway: json.Marshal of the job after every
// step, to persist it.
func BenchmarkLifecycle(b *testing.B) {
	sp := baseSpec(b, 5)
	nodes := make([]string, 8)
	for i := range nodes {
		nodes[i] = nodeID(b, fmt.Sprintf("n%d", i))
	}
	res := nameCID(b, "R1")
	salt := make([]byte, 32)
	receipts := map[string]*verify.Receipt{}
	for i, n := range nodes {
		r, err := verify.Sign(verify.Receipt{JobID: "bench", ModuleCID: nameCID(b, "mod"), InputCIDs: sp.InputCIDs(), ResultCID: res}, nodeKey(fmt.Sprintf("n%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		receipts[n] = &r
	}
	var ours, base time.Duration
	steps := 0
	for i := 0; i < b.N; i++ {
		j, err := New(Params{ID: "bench", Spec: sp}, t0)
		if err != nil {
			b.Fatal(err)
		}
		now := t0
		do := func(ev Event) []Action {
			start := time.Now()
			next, acts, err := Step(j, ev, now)
			mid := time.Now()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(next); err != nil {
				b.Fatal(err)
			}
			ours, base = ours+mid.Sub(start), base+time.Since(mid)
			steps++
			j = next
			return acts
		}
		do(Submitted{})
		do(ProvidersFound{Providers: map[string][]cid.Cid{nodes[0]: {sp.Inputs[0].CID}}})
		for k, n := range nodes {
			do(BidReceived{Bid: Candidate{Node: n, FreeSlots: k % 3, Has: []cid.Cid{sp.Inputs[k%2].CID}, Reputation: 0.5}})
		}
		now = j.Wake()
		var assigned []string
		for _, a := range do(Timeout{}) {
			if as, ok := a.(Assign); ok {
				assigned = append(assigned, as.Node)
			}
		}
		for _, n := range assigned {
			do(Committed{Node: n, Commitment: verify.Commit(res, salt, n, j.ID)})
		}
		for _, n := range assigned {
			do(Revealed{Node: n, Result: res, Salt: salt, Receipt: receipts[n]})
		}
		if j.Phase != Completed {
			b.Fatalf("job ended %s: %s", j.Phase, j.Reason)
		}
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(steps), "ns/step")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-json-persist")
}

// BenchmarkRank ranks 1000 candidates for a job with 16 inputs, against
// sorting them by node ID alone.
func BenchmarkRank(b *testing.B) {
	var inputs []cid.Cid
	for i := 0; i < 16; i++ {
		inputs = append(inputs, nameCID(b, fmt.Sprint("in", i)))
	}
	cands := make([]Candidate, 1000)
	for i := range cands {
		cands[i] = Candidate{Node: fmt.Sprintf("node-%04d", (i*7919)%1000), FreeSlots: i % 4, Load: float64(i%100) / 100,
			Latency: time.Duration(i%50) * time.Millisecond, Reputation: float64(i%10) / 10, Has: inputs[:i%16]}
	}
	var ours, base time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		Rank(inputs, cands)
		mid := time.Now()
		c := append([]Candidate(nil), cands...)
		slices.SortFunc(c, func(x, y Candidate) int { return strings.Compare(x.Node, y.Node) })
		ours, base = ours+mid.Sub(start), base+time.Since(mid)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "ns/rank")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-sort-by-id")
}
