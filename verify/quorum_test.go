package verify

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ipfs/go-cid"
)

func TestTally(t *testing.T) {
	r1, r2, r3 := testCID(t, "r1"), testCID(t, "r2"), testCID(t, "r3")
	v := func(node string, r cid.Cid) Vote { return Vote{Node: node, Result: r} }
	cases := []struct {
		name            string
		votes           []Vote
		quorum, pending int
		status          Status
		result          cid.Cid
		agree, dissent  []string
	}{
		{"no votes yet", nil, 2, 3, Undecided, cid.Undef, nil, nil},
		{"no votes, none pending", nil, 1, 0, NoQuorum, cid.Undef, nil, nil},
		{"single executor", []Vote{v("a", r1)}, 1, 0, Accepted, r1, []string{"a"}, nil},
		{"unanimous", []Vote{v("c", r1), v("a", r1), v("b", r1)}, 2, 0, Accepted, r1, []string{"a", "b", "c"}, nil},
		{"majority with dissenter", []Vote{v("a", r1), v("b", r2), v("c", r1)}, 2, 0, Accepted, r1, []string{"a", "c"}, []string{"b"}},
		{"early accept: other result cannot reach quorum", []Vote{v("a", r1), v("b", r1)}, 2, 1, Accepted, r1, []string{"a", "b"}, nil},
		{"two of three short of a quorum of three", []Vote{v("a", r1), v("b", r2), v("c", r1)}, 3, 0, NoQuorum, cid.Undef, nil, nil},
		{"quorum reached but a tie is still possible", []Vote{v("a", r1), v("b", r1)}, 2, 2, Undecided, cid.Undef, nil, nil},
		{"leader short of quorum, pending could fill", []Vote{v("a", r1)}, 2, 1, Undecided, cid.Undef, nil, nil},
		{"split, one pending", []Vote{v("a", r1), v("b", r2)}, 2, 1, Undecided, cid.Undef, nil, nil},
		{"split, none pending", []Vote{v("a", r1), v("b", r2), v("c", r3)}, 2, 0, NoQuorum, cid.Undef, nil, nil},
		{"cannot reach quorum any more", []Vote{v("a", r1), v("b", r2)}, 3, 0, NoQuorum, cid.Undef, nil, nil},
		{"ambiguous tie at low quorum", []Vote{v("a", r1), v("b", r2), v("c", r1), v("d", r2)}, 2, 0, Ambiguous, cid.Undef, nil, nil},
		{"ambiguous even with pending", []Vote{v("a", r1), v("b", r2)}, 1, 3, Ambiguous, cid.Undef, nil, nil},
		{"five of seven", []Vote{v("a", r1), v("b", r1), v("c", r2), v("d", r1), v("e", r1), v("f", r3)}, 4, 1, Accepted, r1, []string{"a", "b", "d", "e"}, []string{"c", "f"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Tally(tc.votes, tc.quorum, tc.pending)
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != tc.status || !out.Result.Equals(tc.result) ||
				!reflect.DeepEqual(out.Agreeing, tc.agree) || !reflect.DeepEqual(out.Dissenting, tc.dissent) {
				t.Fatalf("Tally = %v %v agree %v dissent %v; want %v %v agree %v dissent %v",
					out.Status, out.Result, out.Agreeing, out.Dissenting, tc.status, tc.result, tc.agree, tc.dissent)
			}
			if out.Status.Final() == (tc.status == Undecided) {
				t.Fatalf("Final() = %v for %v", out.Status.Final(), out.Status)
			}
			// Counts account for every vote, most votes first.
			n := 0
			for i, c := range out.Counts {
				n += len(c.Nodes)
				if i > 0 && len(c.Nodes) > len(out.Counts[i-1].Nodes) {
					t.Fatalf("counts not sorted: %+v", out.Counts)
				}
			}
			if n != len(tc.votes) {
				t.Fatalf("counts hold %d votes, want %d", n, len(tc.votes))
			}
		})
	}
}

func TestTallyOrderIndependent(t *testing.T) {
	r1, r2 := testCID(t, "r1"), testCID(t, "r2")
	a := []Vote{{"a", r1}, {"b", r2}, {"c", r1}, {"d", r2}, {"e", r1}}
	b := []Vote{a[4], a[3], a[2], a[1], a[0]}
	oa, _ := Tally(a, 3, 0)
	ob, _ := Tally(b, 3, 0)
	if !reflect.DeepEqual(oa, ob) {
		t.Fatalf("order matters:\n%+v\n%+v", oa, ob)
	}
	// Equal counts are ordered by CID, whatever the vote order.
	oc, _ := Tally([]Vote{{"x", r2}, {"y", r1}}, 2, 0)
	od, _ := Tally([]Vote{{"y", r1}, {"x", r2}}, 2, 0)
	if !reflect.DeepEqual(oc.Counts, od.Counts) {
		t.Fatalf("tie order depends on vote order: %+v vs %+v", oc.Counts, od.Counts)
	}
}

func TestTallyErrors(t *testing.T) {
	r := testCID(t, "r")
	cases := []struct {
		name            string
		votes           []Vote
		quorum, pending int
		want            error
	}{
		{"zero quorum", nil, 0, 0, ErrInvalidQuorum},
		{"negative pending", nil, 1, -1, ErrInvalidQuorum},
		{"duplicate node", []Vote{{"a", r}, {"a", r}}, 1, 0, ErrDuplicateVote},
		{"empty node", []Vote{{"", r}}, 1, 0, ErrInvalidVote},
		{"undefined result", []Vote{{"a", cid.Undef}}, 1, 0, ErrInvalidVote},
	}
	for _, tc := range cases {
		if _, err := Tally(tc.votes, tc.quorum, tc.pending); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Undecided: "undecided", Accepted: "accepted", NoQuorum: "no-quorum", Ambiguous: "ambiguous", 9: "status(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}
