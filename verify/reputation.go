package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Observation is what the coordinator learned about an executor from one
// execution.
type Observation uint8

const (
	// Agreed: the executor's revealed result is the accepted one.
	Agreed Observation = iota + 1
	// Disagreed: the executor revealed another result than the accepted one,
	// a reveal that did not open its commitment, or an invalid receipt. This
	// is what counts as a lie.
	Disagreed
	// Failed: a node error (crash, unreachable, timeout, protocol error).
	// Not a lie, but it lowers the score.
	Failed
)

var observationNames = [...]string{Agreed: "agreed", Disagreed: "disagreed", Failed: "failed"}

// String returns "agreed", "disagreed" or "failed".
func (o Observation) String() string {
	if o >= Agreed && int(o) < len(observationNames) {
		return observationNames[o]
	}
	return fmt.Sprintf("observation(%d)", uint8(o))
}

// MarshalText returns String.
func (o Observation) MarshalText() ([]byte, error) {
	if o < Agreed || int(o) >= len(observationNames) {
		return nil, fmt.Errorf("verify: unknown observation %d", uint8(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText parses String's output.
func (o *Observation) UnmarshalText(b []byte) error {
	for i, n := range observationNames {
		if n != "" && n == string(b) {
			*o = Observation(i)
			return nil
		}
	}
	return fmt.Errorf("verify: unknown observation %q", b)
}

// LieTolerance is the relative shortfall of the decayed disagreement count
// below LieThreshold that still quarantines (see ReputationConfig).
const LieTolerance = 1e-3

// ReputationConfig tunes a Scorer. The zero value gives the defaults
// documented on each field.
type ReputationConfig struct {
	// HalfLife is the time over which past observations lose half their
	// weight (default 7 days).
	HalfLife time.Duration
	// LieThreshold is the decayed number of disagreements at which a node is
	// quarantined (default 3); a count within LieTolerance of it counts, so
	// that lies in quick succession reach it despite the decay between
	// them. With the default half-life, three lies within about twenty
	// minutes quarantine a node, four within a few days do, and lies spread
	// over months never do.
	LieThreshold float64
	// Quarantine is the length of a node's first quarantine (default 24h).
	// Each further quarantine of the same node lasts twice as long as the
	// previous one, up to MaxQuarantine.
	Quarantine time.Duration
	// MaxQuarantine caps the length of one quarantine (default 30 days).
	MaxQuarantine time.Duration
	// LieWeight is how many agreements one disagreement cancels in the score
	// (default 4).
	LieWeight float64
	// FailureWeight is the weight of a failure relative to an agreement in
	// the score (default 0.5).
	FailureWeight float64
}

func (c ReputationConfig) withDefaults() ReputationConfig {
	if c.HalfLife <= 0 {
		c.HalfLife = 7 * 24 * time.Hour
	}
	if c.LieThreshold <= 0 {
		c.LieThreshold = 3
	}
	if c.Quarantine <= 0 {
		c.Quarantine = 24 * time.Hour
	}
	if c.MaxQuarantine <= 0 {
		c.MaxQuarantine = 30 * 24 * time.Hour
	}
	if c.MaxQuarantine < c.Quarantine {
		c.MaxQuarantine = c.Quarantine
	}
	if c.LieWeight <= 0 {
		c.LieWeight = 4
	}
	if c.FailureWeight <= 0 {
		c.FailureWeight = 0.5
	}
	return c
}

// Standing is a node's reputation at some instant.
type Standing struct {
	// Score is in (0, 1): 0.5 for an unknown node, towards 1 with
	// agreements, towards 0 with disagreements and failures. It is the mean
	// of a Beta(1+agreements, 1+LieWeight·disagreements+FailureWeight·failures)
	// distribution over the decayed counts.
	Score float64
	// Agreements, Disagreements and Failures are the decayed counts.
	Agreements, Disagreements, Failures float64
	// Quarantined reports whether the node is quarantined now; Until is when
	// its current or last quarantine ends (zero if never quarantined).
	Quarantined bool
	Until       time.Time
	// Quarantines counts the node's quarantines so far.
	Quarantines int
}

type record struct {
	agree, disagree, fail float64
	updated               time.Time
	quarantines           int
	until                 time.Time
}

// Scorer keeps the reputation of executor nodes: decayed counts of
// agreements, disagreements (lies) and failures, and quarantines for
// repeated liars. It is pure bookkeeping: callers pass the time, and persist
// it with Encode and DecodeScorer. A Scorer is safe for concurrent use.
type Scorer struct {
	cfg   ReputationConfig
	mu    sync.Mutex
	nodes map[string]*record
}

// NewScorer returns an empty Scorer.
func NewScorer(cfg ReputationConfig) *Scorer {
	return &Scorer{cfg: cfg.withDefaults(), nodes: make(map[string]*record)}
}

// Config returns the configuration in effect, defaults filled in.
func (s *Scorer) Config() ReputationConfig { return s.cfg }

// decayed returns rec's counts decayed to now (never grown: a now before the
// last update decays nothing).
func (s *Scorer) decayed(rec *record, now time.Time) (a, d, f float64) {
	dt := now.Sub(rec.updated)
	if dt <= 0 {
		return rec.agree, rec.disagree, rec.fail
	}
	k := math.Exp2(-float64(dt) / float64(s.cfg.HalfLife))
	return rec.agree * k, rec.disagree * k, rec.fail * k
}

func (s *Scorer) standing(rec *record, now time.Time) Standing {
	if rec == nil {
		return Standing{Score: 0.5}
	}
	a, d, f := s.decayed(rec, now)
	return Standing{
		Score:         (1 + a) / (2 + a + s.cfg.LieWeight*d + s.cfg.FailureWeight*f),
		Agreements:    a,
		Disagreements: d,
		Failures:      f,
		Quarantined:   now.Before(rec.until),
		Until:         rec.until,
		Quarantines:   rec.quarantines,
	}
}

// Observe records an observation of node at now and returns its new
// standing. A disagreement that brings the decayed disagreement count to
// LieThreshold quarantines a node that is not already quarantined.
func (s *Scorer) Observe(node string, o Observation, now time.Time) (Standing, error) {
	if node == "" {
		return Standing{}, errors.New("verify: observe: empty node ID")
	}
	if o < Agreed || o > Failed {
		return Standing{}, fmt.Errorf("verify: observe: unknown observation %d", uint8(o))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.nodes[node]
	if rec == nil {
		rec = &record{updated: now}
		s.nodes[node] = rec
	}
	rec.agree, rec.disagree, rec.fail = s.decayed(rec, now)
	if now.After(rec.updated) {
		rec.updated = now
	}
	switch o {
	case Agreed:
		rec.agree++
	case Disagreed:
		rec.disagree++
		if rec.disagree >= s.cfg.LieThreshold*(1-LieTolerance) && !now.Before(rec.until) {
			d := s.cfg.Quarantine
			for i := 0; i < rec.quarantines && d < s.cfg.MaxQuarantine; i++ {
				if d > s.cfg.MaxQuarantine/2 {
					d = s.cfg.MaxQuarantine
					break
				}
				d *= 2
			}
			rec.until = now.Add(min(d, s.cfg.MaxQuarantine))
			rec.quarantines++
		}
	case Failed:
		rec.fail++
	}
	return s.standing(rec, now), nil
}

// Standing returns node's standing at now. An unknown node has score 0.5
// and is not quarantined.
func (s *Scorer) Standing(node string, now time.Time) Standing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.standing(s.nodes[node], now)
}

// Score returns node's score at now (see Standing).
func (s *Scorer) Score(node string, now time.Time) float64 { return s.Standing(node, now).Score }

// Quarantined reports whether node is quarantined at now.
func (s *Scorer) Quarantined(node string, now time.Time) bool {
	return s.Standing(node, now).Quarantined
}

// Release ends node's quarantine at now and clears its disagreements, so
// that it takes LieThreshold further lies to quarantine it again. Its
// quarantine count is kept, so the next quarantine is longer.
func (s *Scorer) Release(node string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.nodes[node]; rec != nil {
		rec.agree, rec.disagree, rec.fail = s.decayed(rec, now)
		rec.disagree = 0
		if now.After(rec.updated) {
			rec.updated = now
		}
		if now.Before(rec.until) {
			rec.until = now
		}
	}
}

// Nodes returns the IDs of the nodes the scorer knows, sorted.
func (s *Scorer) Nodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.nodes))
}

// Prune forgets nodes that have never been quarantined, are not
// quarantined at now, and whose decayed counts add up to less than
// minWeight. It returns how many it forgot.
func (s *Scorer) Prune(now time.Time, minWeight float64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, rec := range s.nodes {
		a, d, f := s.decayed(rec, now)
		if rec.quarantines == 0 && a+d+f < minWeight {
			delete(s.nodes, id)
			n++
		}
	}
	return n
}

// ScoresVersion is the format version written by Scorer.Encode.
const ScoresVersion = 1

type wireScores struct {
	V     int                   `json:"v"`
	Nodes map[string]wireRecord `json:"nodes"`
}

type wireRecord struct {
	Agree       float64 `json:"agree"`
	Disagree    float64 `json:"disagree"`
	Fail        float64 `json:"fail"`
	Updated     string  `json:"updated"`
	Quarantines int     `json:"quarantines,omitempty"`
	Until       string  `json:"quarantined_until,omitempty"`
}

// Encode returns the scorer's state as JSON (the configuration is not
// included). Counts are stored as of each node's last update; decay is
// applied on reading.
func (s *Scorer) Encode() ([]byte, error) {
	s.mu.Lock()
	w := wireScores{V: ScoresVersion, Nodes: make(map[string]wireRecord, len(s.nodes))}
	for id, rec := range s.nodes {
		wr := wireRecord{
			Agree: rec.agree, Disagree: rec.disagree, Fail: rec.fail,
			Updated: rec.updated.UTC().Format(time.RFC3339Nano), Quarantines: rec.quarantines,
		}
		if !rec.until.IsZero() {
			wr.Until = rec.until.UTC().Format(time.RFC3339Nano)
		}
		w.Nodes[id] = wr
	}
	s.mu.Unlock()
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("verify: encode scores: %w", err)
	}
	return b, nil
}

// ErrInvalidScores reports a malformed encoding given to DecodeScorer.
var ErrInvalidScores = errors.New("invalid reputation scores")

// DecodeScorer returns a Scorer with configuration cfg and the state
// encoded in b by Encode. Decoding is strict: unknown fields, other format
// versions, negative or non-finite counts, malformed times and trailing data
// are rejected with ErrInvalidScores.
func DecodeScorer(b []byte, cfg ReputationConfig) (*Scorer, error) {
	s, err := decodeScorer(b, cfg)
	if err != nil {
		return nil, fmt.Errorf("verify: decode scores: %w", err)
	}
	return s, nil
}

func decodeScorer(b []byte, cfg ReputationConfig) (*Scorer, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireScores
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidScores, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalidScores)
	}
	if w.V != ScoresVersion {
		return nil, fmt.Errorf("%w: format version %d (this build reads %d)", ErrInvalidScores, w.V, ScoresVersion)
	}
	s := NewScorer(cfg)
	for id, wr := range w.Nodes {
		if id == "" || len(id) > MaxPeerIDLen {
			return nil, fmt.Errorf("%w: node ID %q", ErrInvalidScores, id)
		}
		for _, v := range []float64{wr.Agree, wr.Disagree, wr.Fail} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: node %s: count %v", ErrInvalidScores, id, v)
			}
		}
		if wr.Quarantines < 0 {
			return nil, fmt.Errorf("%w: node %s: quarantines %d", ErrInvalidScores, id, wr.Quarantines)
		}
		rec := &record{agree: wr.Agree, disagree: wr.Disagree, fail: wr.Fail, quarantines: wr.Quarantines}
		var err error
		if rec.updated, err = time.Parse(time.RFC3339Nano, wr.Updated); err != nil {
			return nil, fmt.Errorf("%w: node %s: updated %s", ErrInvalidScores, id, strconv.Quote(wr.Updated))
		}
		if wr.Until != "" {
			if rec.until, err = time.Parse(time.RFC3339Nano, wr.Until); err != nil {
				return nil, fmt.Errorf("%w: node %s: quarantined_until %s", ErrInvalidScores, id, strconv.Quote(wr.Until))
			}
		}
		s.nodes[id] = rec
	}
	return s, nil
}
