package verify

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func observe(t *testing.T, s *Scorer, node string, o Observation, at time.Time) Standing {
	t.Helper()
	st, err := s.Observe(node, o, at)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestScoreFormula(t *testing.T) {
	cfg := ReputationConfig{}.withDefaults()
	cases := []struct {
		name    string
		obs     []Observation
		a, d, f float64
	}{
		{"unknown", nil, 0, 0, 0},
		{"one agreement", []Observation{Agreed}, 1, 0, 0},
		{"ten agreements", repeat(Agreed, 10), 10, 0, 0},
		{"ten agreements one lie", append(repeat(Agreed, 10), Disagreed), 10, 1, 0},
		{"failures", []Observation{Failed, Failed, Agreed}, 1, 0, 2},
	}
	for _, tc := range cases {
		s := NewScorer(ReputationConfig{})
		for _, o := range tc.obs {
			observe(t, s, "n", o, t0)
		}
		want := (1 + tc.a) / (2 + tc.a + cfg.LieWeight*tc.d + cfg.FailureWeight*tc.f)
		st := s.Standing("n", t0)
		if !near(st.Score, want) || !near(st.Agreements, tc.a) || !near(st.Disagreements, tc.d) || !near(st.Failures, tc.f) {
			t.Errorf("%s: standing %+v, want score %v", tc.name, st, want)
		}
	}
	// Ordering properties the ranking relies on.
	s := NewScorer(ReputationConfig{})
	observe(t, s, "good", Agreed, t0)
	observe(t, s, "flaky", Failed, t0)
	observe(t, s, "liar", Disagreed, t0)
	good, unknown, flaky, liar := s.Score("good", t0), s.Score("new", t0), s.Score("flaky", t0), s.Score("liar", t0)
	if !(good > unknown && unknown > flaky && flaky > liar) {
		t.Errorf("want good > unknown > flaky > liar, got %v %v %v %v", good, unknown, flaky, liar)
	}
}

func repeat(o Observation, n int) []Observation {
	out := make([]Observation, n)
	for i := range out {
		out[i] = o
	}
	return out
}

func TestDecay(t *testing.T) {
	s := NewScorer(ReputationConfig{HalfLife: time.Hour})
	for i := 0; i < 8; i++ {
		observe(t, s, "n", Agreed, t0)
	}
	for _, tc := range []struct {
		after time.Duration
		want  float64
	}{{0, 8}, {time.Hour, 4}, {2 * time.Hour, 2}, {90 * time.Minute, 8 / math.Pow(2, 1.5)}, {-time.Hour, 8}} {
		if got := s.Standing("n", t0.Add(tc.after)).Agreements; !near(got, tc.want) {
			t.Errorf("after %v: agreements %v, want %v", tc.after, got, tc.want)
		}
	}
	// Reading does not change the state; observing decays first, then adds.
	st := observe(t, s, "n", Agreed, t0.Add(time.Hour))
	if !near(st.Agreements, 5) {
		t.Errorf("observe after one half-life: %v, want 5", st.Agreements)
	}
	// A late observation (clock going backwards) does not decay or rewind.
	st = observe(t, s, "n", Agreed, t0)
	if !near(st.Agreements, 6) || !near(s.Standing("n", t0.Add(2*time.Hour)).Agreements, 3) {
		t.Errorf("late observation: %+v", st)
	}
	// The score of an old reputation drifts back to neutral.
	if sc := s.Score("n", t0.Add(1000*time.Hour)); !near(sc, 0.5) {
		t.Errorf("score after a long time = %v, want 0.5", sc)
	}
}

func TestQuarantine(t *testing.T) {
	cfg := ReputationConfig{HalfLife: 24 * time.Hour, LieThreshold: 3, Quarantine: time.Hour, MaxQuarantine: 3 * time.Hour}
	s := NewScorer(cfg)
	at := t0
	for i := 0; i < 2; i++ {
		if st := observe(t, s, "liar", Disagreed, at); st.Quarantined {
			t.Fatalf("quarantined after %d lies", i+1)
		}
	}
	// Agreements do not wash lies out.
	observe(t, s, "liar", Agreed, at)
	st := observe(t, s, "liar", Disagreed, at)
	if !st.Quarantined || !st.Until.Equal(at.Add(time.Hour)) || st.Quarantines != 1 {
		t.Fatalf("third lie: %+v, want quarantined until %v", st, at.Add(time.Hour))
	}
	if !s.Quarantined("liar", at.Add(59*time.Minute)) || s.Quarantined("liar", at.Add(time.Hour)) {
		t.Fatal("quarantine does not last exactly one hour")
	}
	// Lies during a quarantine do not extend it.
	st = observe(t, s, "liar", Disagreed, at.Add(30*time.Minute))
	if !st.Until.Equal(at.Add(time.Hour)) || st.Quarantines != 1 {
		t.Fatalf("lie during quarantine: %+v", st)
	}
	// After release by time, the next lie (counts still above threshold)
	// quarantines again, for twice as long; then capped.
	at = at.Add(2 * time.Hour)
	st = observe(t, s, "liar", Disagreed, at)
	if !st.Quarantined || !st.Until.Equal(at.Add(2*time.Hour)) || st.Quarantines != 2 {
		t.Fatalf("second quarantine: %+v", st)
	}
	at = st.Until
	st = observe(t, s, "liar", Disagreed, at)
	if !st.Until.Equal(at.Add(3*time.Hour)) || st.Quarantines != 3 {
		t.Fatalf("third quarantine not capped at 3h: %+v", st)
	}
	// Lies spread out beyond the half-life never reach the threshold.
	s2 := NewScorer(cfg)
	for i := 0; i < 20; i++ {
		if st := observe(t, s2, "sometimes", Disagreed, t0.Add(time.Duration(i)*72*time.Hour)); st.Quarantined {
			t.Fatalf("occasional liar quarantined at lie %d: %+v", i, st)
		}
	}
	// Lies a second apart decay a little between them, and still count as
	// three; four lies a day apart quarantine too, three do not.
	s3 := NewScorer(ReputationConfig{})
	for i := 0; i < 3; i++ {
		st = observe(t, s3, "quick", Disagreed, t0.Add(time.Duration(i)*time.Second))
	}
	if !st.Quarantined {
		t.Fatalf("three lies in two seconds: %+v, want quarantined", st)
	}
	for i := 0; i < 4; i++ {
		st = observe(t, s3, "daily", Disagreed, t0.Add(time.Duration(i)*24*time.Hour))
		if (i < 3) == st.Quarantined {
			t.Fatalf("lie %d a day apart: %+v", i+1, st)
		}
	}
	// Failures never quarantine.
	for i := 0; i < 50; i++ {
		observe(t, s2, "flaky", Failed, t0)
	}
	if s2.Quarantined("flaky", t0) {
		t.Fatal("failures quarantined a node")
	}
}

func TestRelease(t *testing.T) {
	s := NewScorer(ReputationConfig{LieThreshold: 2, Quarantine: time.Hour})
	observe(t, s, "n", Disagreed, t0)
	observe(t, s, "n", Disagreed, t0)
	if !s.Quarantined("n", t0) {
		t.Fatal("not quarantined")
	}
	s.Release("n", t0.Add(time.Minute))
	st := s.Standing("n", t0.Add(time.Minute))
	if st.Quarantined || st.Disagreements != 0 || st.Quarantines != 1 {
		t.Fatalf("after release: %+v", st)
	}
	// One more lie is not enough; two are, for twice as long.
	if observe(t, s, "n", Disagreed, t0.Add(2*time.Minute)).Quarantined {
		t.Fatal("one lie after release quarantined")
	}
	st = observe(t, s, "n", Disagreed, t0.Add(2*time.Minute))
	if !st.Quarantined || !st.Until.Equal(t0.Add(2*time.Minute+2*time.Hour)) {
		t.Fatalf("second quarantine: %+v", st)
	}
	s.Release("unknown", t0) // no effect, no panic
}

func TestObserveErrors(t *testing.T) {
	s := NewScorer(ReputationConfig{})
	if _, err := s.Observe("", Agreed, t0); err == nil {
		t.Error("empty node accepted")
	}
	if _, err := s.Observe("n", 0, t0); err == nil {
		t.Error("observation 0 accepted")
	}
	if _, err := s.Observe("n", 9, t0); err == nil {
		t.Error("observation 9 accepted")
	}
	if len(s.Nodes()) != 0 {
		t.Error("failed observations created records")
	}
}

func TestPrune(t *testing.T) {
	s := NewScorer(ReputationConfig{HalfLife: time.Hour, LieThreshold: 1})
	observe(t, s, "old", Agreed, t0)
	observe(t, s, "recent", Agreed, t0.Add(10*time.Hour))
	observe(t, s, "jailed", Disagreed, t0) // quarantined once: kept
	if n := s.Prune(t0.Add(10*time.Hour), 0.01); n != 1 {
		t.Fatalf("Prune = %d, want 1", n)
	}
	if got := s.Nodes(); !reflect.DeepEqual(got, []string{"jailed", "recent"}) {
		t.Fatalf("Nodes = %v", got)
	}
}

func TestScorerPersistence(t *testing.T) {
	cfg := ReputationConfig{LieThreshold: 2, Quarantine: time.Hour}
	s := NewScorer(cfg)
	observe(t, s, "a", Agreed, t0)
	observe(t, s, "a", Failed, t0.Add(time.Minute))
	observe(t, s, "b", Disagreed, t0)
	observe(t, s, "b", Disagreed, t0.Add(time.Second))
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeScorer(b, cfg)
	if err != nil {
		t.Fatalf("DecodeScorer: %v\n%s", err, b)
	}
	later := t0.Add(5 * time.Hour)
	for _, n := range []string{"a", "b", "c"} {
		for _, at := range []time.Time{t0.Add(time.Minute), later} {
			if got, want := back.Standing(n, at), s.Standing(n, at); !reflect.DeepEqual(got, want) {
				t.Errorf("%s at %v: restored %+v, original %+v", n, at, got, want)
			}
		}
	}
	b2, _ := back.Encode()
	if string(b) != string(b2) {
		t.Errorf("re-encoding differs:\n%s\n%s", b, b2)
	}

	bad := map[string]string{
		"version":        `{"v":2,"nodes":{}}`,
		"unknown field":  `{"v":1,"nodes":{},"x":1}`,
		"negative count": `{"v":1,"nodes":{"a":{"agree":-1,"disagree":0,"fail":0,"updated":"2030-01-01T00:00:00Z"}}}`,
		"bad time":       `{"v":1,"nodes":{"a":{"agree":1,"disagree":0,"fail":0,"updated":"soon"}}}`,
		"bad until":      `{"v":1,"nodes":{"a":{"agree":1,"disagree":0,"fail":0,"updated":"2030-01-01T00:00:00Z","quarantined_until":"x"}}}`,
		"negative q":     `{"v":1,"nodes":{"a":{"agree":1,"disagree":0,"fail":0,"updated":"2030-01-01T00:00:00Z","quarantines":-1}}}`,
		"empty node":     `{"v":1,"nodes":{"":{"agree":1,"disagree":0,"fail":0,"updated":"2030-01-01T00:00:00Z"}}}`,
		"trailing":       `{"v":1,"nodes":{}} x`,
		"not json":       `nope`,
		"huge number":    `{"v":1,"nodes":{"a":{"agree":1e999,"disagree":0,"fail":0,"updated":"2030-01-01T00:00:00Z"}}}`,
	}
	for name, in := range bad {
		if _, err := DecodeScorer([]byte(in), cfg); !errors.Is(err, ErrInvalidScores) {
			t.Errorf("%s: DecodeScorer = %v, want ErrInvalidScores", name, err)
		}
	}
}

func TestScorerConcurrentUse(t *testing.T) {
	s := NewScorer(ReputationConfig{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				node := fmt.Sprintf("n%d", i%7)
				if _, err := s.Observe(node, Observation(1+i%3), t0.Add(time.Duration(i)*time.Second)); err != nil {
					t.Error(err)
					return
				}
				s.Standing(node, t0)
				if i%50 == 0 {
					if _, err := s.Encode(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	total := 0.0
	for _, n := range s.Nodes() {
		st := s.Standing(n, t0) // no decay before the first observation time
		total += st.Agreements + st.Disagreements + st.Failures
	}
	if total <= 0 || total > 800 {
		t.Fatalf("total weight %v out of range", total)
	}
}

func TestObservationText(t *testing.T) {
	for _, o := range []Observation{Agreed, Disagreed, Failed} {
		b, err := o.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Observation
		if err := back.UnmarshalText(b); err != nil || back != o {
			t.Errorf("%v: text round trip = %v, %v", o, back, err)
		}
	}
	if _, err := Observation(0).MarshalText(); err == nil {
		t.Error("MarshalText(0) succeeded")
	}
	var o Observation
	if err := o.UnmarshalText([]byte("")); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("UnmarshalText(\"\") = %v", err)
	}
}

func FuzzDecodeScorer(f *testing.F) {
	s := NewScorer(ReputationConfig{LieThreshold: 1})
	s.Observe("a", Agreed, t0)
	s.Observe("b", Disagreed, t0)
	good, _ := s.Encode()
	f.Add(good)
	f.Add([]byte(`{"v":1,"nodes":{}}`))
	f.Add([]byte(`{"v":1,"nodes":{"a":{"agree":1e308,"disagree":1e308,"fail":1e308,"updated":"9999-12-31T23:59:59Z","quarantines":2147483647,"quarantined_until":"0001-01-01T00:00:00Z"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeScorer(b, ReputationConfig{})
		if err != nil {
			return
		}
		for _, n := range s.Nodes() {
			st := s.Standing(n, t0)
			if math.IsNaN(st.Score) || st.Score < 0 || st.Score > 1 {
				t.Fatalf("score %v for %s", st.Score, n)
			}
			if _, err := s.Observe(n, Disagreed, t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Encode(); err != nil {
			t.Fatalf("Encode after decode: %v", err)
		}
	})
}
