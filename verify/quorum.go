package verify

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/ipfs/go-cid"
)

// Status is the state of a vote count.
type Status uint8

const (
	// Undecided means the votes still to come could change the outcome.
	Undecided Status = iota
	// Accepted means one result has at least quorum votes and no other
	// result can reach quorum, whatever the pending votes say.
	Accepted
	// NoQuorum means no result has or can reach quorum.
	NoQuorum
	// Ambiguous means two or more results reached quorum (possible only when
	// quorum is at most half the voters).
	Ambiguous
)

var statusNames = [...]string{Undecided: "undecided", Accepted: "accepted", NoQuorum: "no-quorum", Ambiguous: "ambiguous"}

// String returns "undecided", "accepted", "no-quorum" or "ambiguous".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Final reports whether more votes cannot change s.
func (s Status) Final() bool { return s != Undecided }

var (
	// ErrInvalidQuorum reports a quorum below 1 or a negative pending count.
	ErrInvalidQuorum = errors.New("invalid quorum")
	// ErrDuplicateVote reports two votes from the same node.
	ErrDuplicateVote = errors.New("duplicate vote")
	// ErrInvalidVote reports a vote without a node or with an undefined CID.
	ErrInvalidVote = errors.New("invalid vote")
)

// Vote is the result one executor revealed.
type Vote struct {
	// Node is the executor's peer ID.
	Node string
	// Result is the result CID it revealed (after CheckReveal succeeded).
	Result cid.Cid
}

// Count groups the nodes that voted for one result.
type Count struct {
	Result cid.Cid
	// Nodes voted for Result, sorted.
	Nodes []string
}

// Outcome is the result of Tally.
type Outcome struct {
	Status Status
	// Result is the accepted result CID (Status Accepted only).
	Result cid.Cid
	// Agreeing lists the nodes that voted for Result, sorted (Accepted only).
	Agreeing []string
	// Dissenting lists the nodes that voted for another result, sorted
	// (Accepted only).
	Dissenting []string
	// Counts lists every distinct result with its voters, most votes first;
	// ties are ordered by the binary CID.
	Counts []Count
}

// Tally counts votes. quorum (≥ 1) is the number of equal votes a result
// needs; pending (≥ 0) is the number of votes still expected. Results are
// equal when their CIDs are byte-for-byte equal. Tally decides as early as
// it safely can:
//
//   - Ambiguous when two results have quorum;
//   - Accepted when one result has quorum and no other result could still
//     reach it (its votes plus pending stay below quorum);
//   - NoQuorum when no result has quorum and none could reach it;
//   - Undecided otherwise.
func Tally(votes []Vote, quorum, pending int) (Outcome, error) {
	if quorum < 1 || pending < 0 {
		return Outcome{}, fmt.Errorf("verify: tally: %w: quorum %d, pending %d", ErrInvalidQuorum, quorum, pending)
	}
	byResult := make(map[string]int) // binary CID -> index in counts
	seen := make(map[string]bool, len(votes))
	var counts []Count
	for _, v := range votes {
		if v.Node == "" || !v.Result.Defined() {
			return Outcome{}, fmt.Errorf("verify: tally: %w: node %q result %v", ErrInvalidVote, v.Node, v.Result)
		}
		if seen[v.Node] {
			return Outcome{}, fmt.Errorf("verify: tally: %w from %s", ErrDuplicateVote, v.Node)
		}
		seen[v.Node] = true
		k := v.Result.KeyString()
		i, ok := byResult[k]
		if !ok {
			i = len(counts)
			byResult[k] = i
			counts = append(counts, Count{Result: v.Result})
		}
		counts[i].Nodes = append(counts[i].Nodes, v.Node)
	}
	for i := range counts {
		slices.Sort(counts[i].Nodes)
	}
	slices.SortFunc(counts, func(a, b Count) int {
		if d := len(b.Nodes) - len(a.Nodes); d != 0 {
			return d
		}
		return bytes.Compare(a.Result.Bytes(), b.Result.Bytes())
	})

	out := Outcome{Counts: counts}
	first, second := 0, 0
	if len(counts) > 0 {
		first = len(counts[0].Nodes)
	}
	if len(counts) > 1 {
		second = len(counts[1].Nodes)
	}
	switch {
	case second >= quorum:
		out.Status = Ambiguous
	case first >= quorum && second+pending < quorum:
		out.Status = Accepted
		out.Result = counts[0].Result
		out.Agreeing = slices.Clone(counts[0].Nodes)
		for _, c := range counts[1:] {
			out.Dissenting = append(out.Dissenting, c.Nodes...)
		}
		slices.Sort(out.Dissenting)
	case first >= quorum:
		out.Status = Undecided // another result could still reach quorum
	case first+pending >= quorum:
		out.Status = Undecided
	default:
		out.Status = NoQuorum
	}
	return out, nil
}
