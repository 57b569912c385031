package state

import (
	"cmp"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
)

// Candidate is a node offering to execute a job, with what the coordinator
// knows about it. The node fills Has, FreeSlots, FreeMemory and Load in its
// bid; the coordinator fills Latency, Reputation (verify.Scorer) and
// Quarantined, and Labels and Roles from the node's capability advert.
type Candidate struct {
	Node string `json:"node"`
	// Has lists the job's input CIDs the node stores locally. Inputs are
	// matched by multihash, so a CIDv0 and a CIDv1 of the same content
	// match; CIDs that are not inputs of the job are ignored.
	Has []cid.Cid `json:"has,omitempty"`
	// FreeSlots is the number of jobs the node can start now.
	FreeSlots int `json:"free_slots"`
	// FreeMemory is the memory available for jobs in bytes (0 = unknown).
	FreeMemory uint64 `json:"free_memory,omitempty"`
	// Load is the node's utilisation: executions running or queued per
	// execution slot (0 idle, 1 every slot busy, above 1 with a queue).
	Load float64 `json:"load"`
	// Latency is the round-trip time from the coordinator.
	Latency time.Duration `json:"latency"`
	// Reputation is the node's score in [0, 1] (0.5 for unknown nodes).
	Reputation float64 `json:"reputation"`
	// Quarantined nodes are never ranked or assigned.
	Quarantined bool `json:"quarantined,omitempty"`
	// Labels and Roles are matched against the spec's constraints.
	Labels map[string]string `json:"labels,omitempty"`
	Roles  []string          `json:"roles,omitempty"`
}

// Resolution of the ranking criteria: loads within one percent, latencies
// within LatencyBucket and reputations within ReputationBucket of each
// other count as equal, so that the criteria after them still matter.
const (
	LoadBucket       = 0.01
	LatencyBucket    = 5 * time.Millisecond
	ReputationBucket = 0.1
)

// Locality returns how many distinct inputs (by multihash) c has.
func (c Candidate) Locality(inputs []cid.Cid) int {
	return newInputSet(inputs).locality(c)
}

// inputSet numbers a job's distinct input multihashes.
type inputSet map[string]int

func newInputSet(inputs []cid.Cid) inputSet {
	set := make(inputSet, len(inputs))
	for _, in := range inputs {
		k := string(in.Hash())
		if _, dup := set[k]; !dup {
			set[k] = len(set)
		}
	}
	return set
}

func (set inputSet) locality(c Candidate) int {
	if len(set) == 0 || len(c.Has) == 0 {
		return 0
	}
	found := make([]bool, len(set))
	n := 0
	for _, h := range c.Has {
		if !h.Defined() {
			continue
		}
		if i, ok := set[string(h.Hash())]; ok && !found[i] {
			found[i] = true
			n++
		}
	}
	return n
}

// Rank orders candidates best first for a job reading inputs and leaves out
// quarantined ones. The criteria, in order: availability (a node with a
// free slot before one that would queue the job behind others), data
// locality (more of the job's inputs stored locally first), free capacity
// (more free slots first), load (lower first, per LoadBucket), latency (lower first, per
// LatencyBucket), reputation (higher first, per ReputationBucket), and
// finally node ID, so that the order is total and deterministic. The input
// is not modified.
func Rank(inputs []cid.Cid, cands []Candidate) []Candidate {
	return RankFor("", inputs, cands)
}

// RankFor is Rank for the job with ID seed: candidates equal on every
// criterion are ordered by a hash of seed and node ID before node ID, so
// that concurrent jobs spread over equivalent nodes instead of all picking
// the same one. An empty seed gives Rank's order.
func RankFor(seed string, inputs []cid.Cid, cands []Candidate) []Candidate {
	type key struct {
		i          int // index in cands; the last tie-break, for stability
		locality   int
		load       int64
		latency    int64
		reputation int64
		spread     uint64
	}
	set := newInputSet(inputs)
	keys := make([]key, 0, len(cands))
	for i, c := range cands {
		if c.Quarantined {
			continue
		}
		k := key{
			i:          i,
			locality:   set.locality(c),
			load:       bucket(c.Load, LoadBucket),
			latency:    int64(c.Latency / LatencyBucket),
			reputation: bucket(c.Reputation, ReputationBucket),
		}
		if math.IsNaN(c.Reputation) {
			k.reputation = math.MinInt64 // ranks last
		}
		if seed != "" {
			h := fnv.New64a()
			h.Write([]byte(seed))
			h.Write([]byte{0})
			h.Write([]byte(c.Node))
			k.spread = h.Sum64()
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		ca, cb := &cands[a.i], &cands[b.i]
		switch {
		case (ca.FreeSlots > 0) != (cb.FreeSlots > 0):
			if ca.FreeSlots > 0 {
				return -1
			}
			return 1
		case a.locality != b.locality:
			return cmp.Compare(b.locality, a.locality)
		case ca.FreeSlots != cb.FreeSlots:
			return cmp.Compare(cb.FreeSlots, ca.FreeSlots)
		case a.load != b.load:
			return cmp.Compare(a.load, b.load)
		case a.latency != b.latency:
			return cmp.Compare(a.latency, b.latency)
		case a.reputation != b.reputation:
			return cmp.Compare(b.reputation, a.reputation)
		case a.spread != b.spread:
			return cmp.Compare(a.spread, b.spread)
		}
		if c := cmp.Compare(ca.Node, cb.Node); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	out := make([]Candidate, len(keys))
	for j, k := range keys {
		out[j] = cands[k.i]
	}
	return out
}

// bucket quantises v in steps of size, mapping NaN to the worst bucket.
func bucket(v, size float64) int64 {
	if math.IsNaN(v) {
		return math.MaxInt64
	}
	q := math.Floor(v/size + 1e-9)
	switch {
	case q > math.MaxInt64/2:
		return math.MaxInt64 / 2
	case q < math.MinInt64/2:
		return math.MinInt64 / 2
	}
	return int64(q)
}
