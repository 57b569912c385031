package state

import (
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/jobs/spec"
)

// TestBidsCompleteClosesRoundEarly: once every asked node answered, the
// round closes at once instead of waiting for the bid window.
func TestBidsCompleteClosesRoundEarly(t *testing.T) {
	mod, _ := cid.Decode("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
	sp, err := spec.Decode([]byte("apiVersion: ipdm/v1\nkind: Job\nmodule: " + mod.String() + "\nreplicas: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	j, err := New(Params{ID: "job-1", Spec: sp, Policy: Policy{BidWindow: time.Minute}}, now)
	if err != nil {
		t.Fatal(err)
	}
	step := func(ev Event) []Action {
		t.Helper()
		var acts []Action
		if j, acts, err = Step(j, ev, now); err != nil {
			t.Fatal(err)
		}
		return acts
	}
	step(Submitted{})
	step(BidReceived{Bid: Candidate{Node: "a", FreeSlots: 1}})
	step(BidReceived{Bid: Candidate{Node: "b", FreeSlots: 1}})
	if acts := step(BidsComplete{Round: 7}); len(acts) != 0 || j.Phase != Bidding {
		t.Fatalf("stale round: %v, phase %s", acts, j.Phase)
	}
	acts := step(BidsComplete{Round: 1})
	assigns := 0
	for _, a := range acts {
		if _, ok := a.(Assign); ok {
			assigns++
		}
	}
	if assigns != 2 || j.Phase != Running {
		t.Fatalf("after every bid: %d assigns, phase %s (%v)", assigns, j.Phase, acts)
	}
	if acts := step(BidsComplete{Round: 1}); len(acts) != 0 {
		t.Fatalf("second BidsComplete acted: %v", acts)
	}
}
