package capability

import (
	"errors"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestIndexLifecycle(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ttl := 10 * time.Second
	p1, p2 := testPeerID(t, 1), testPeerID(t, 2)

	type step struct {
		name    string
		at      time.Duration // offset from t0
		update  *Advert
		wantErr error
		want    []string // live peer IDs after the step, sorted
	}
	adv := func(id string, seq uint64) *Advert { return &Advert{PeerID: id, Seq: seq, Cores: int(seq)} }
	steps := []step{
		{name: "empty", at: 0, want: []string{}},
		{name: "add p1", at: 0, update: adv(p1, 5), want: []string{p1}},
		{name: "add p2", at: 2 * time.Second, update: adv(p2, 1), want: []string{p1, p2}},
		{name: "stale p1 ignored", at: 3 * time.Second, update: adv(p1, 4), wantErr: ErrStale, want: []string{p1, p2}},
		{name: "invalid rejected", at: 3 * time.Second, update: &Advert{PeerID: "bad"}, wantErr: ErrInvalidAdvert, want: []string{p1, p2}},
		{name: "just before p1 expiry", at: ttl - time.Nanosecond, want: []string{p1, p2}},
		{name: "p1 expired", at: ttl, want: []string{p2}},
		{name: "p1 back with lower seq after expiry", at: 11 * time.Second, update: adv(p1, 1), want: []string{p1, p2}},
		{name: "p2 refreshed", at: 11 * time.Second, update: adv(p2, 2), want: []string{p1, p2}},
		{name: "p2 survives its first ttl", at: 13 * time.Second, want: []string{p1, p2}},
		{name: "all expired", at: 30 * time.Second, want: []string{}},
	}
	x := NewIndex(ttl)
	for _, s := range steps {
		now := t0.Add(s.at)
		if s.update != nil {
			err := x.Update(*s.update, now)
			if s.wantErr == nil && err != nil {
				t.Fatalf("%s: Update: %v", s.name, err)
			}
			if s.wantErr != nil && !errors.Is(err, s.wantErr) {
				t.Fatalf("%s: Update error = %v, want %v", s.name, err, s.wantErr)
			}
		}
		got := []string{}
		for _, e := range x.List(now) {
			got = append(got, e.Advert.PeerID)
		}
		want := append([]string{}, s.want...)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: List = %v, want %v", s.name, got, want)
		}
		if n := x.Len(now); n != len(want) {
			t.Fatalf("%s: Len = %d, want %d", s.name, n, len(want))
		}
	}
}

func TestIndexEntryTimes(t *testing.T) {
	t0 := time.Unix(1000, 0)
	x := NewIndex(5 * time.Second)
	p := testPeerID(t, 1)
	if err := x.Update(Advert{PeerID: p, Seq: 1}, t0); err != nil {
		t.Fatal(err)
	}
	if err := x.Update(Advert{PeerID: p, Seq: 2, Cores: 4}, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	e, ok := x.Get(p, t0.Add(4*time.Second))
	if !ok {
		t.Fatal("Get: not found")
	}
	if !e.FirstSeen.Equal(t0) || !e.LastSeen.Equal(t0.Add(3*time.Second)) || !e.Expires.Equal(t0.Add(8*time.Second)) {
		t.Fatalf("entry times = first %v last %v expires %v", e.FirstSeen, e.LastSeen, e.Expires)
	}
	if e.Advert.Cores != 4 || e.Advert.Seq != 2 {
		t.Fatalf("entry advert = %+v, want latest", e.Advert)
	}
	if _, ok := x.Get(p, t0.Add(8*time.Second)); ok {
		t.Fatal("Get returned an expired entry")
	}
	if _, ok := x.Get(testPeerID(t, 2), t0); ok {
		t.Fatal("Get returned an unknown peer")
	}
}

func TestIndexPruneAndRemove(t *testing.T) {
	t0 := time.Unix(0, 0)
	x := NewIndex(time.Second)
	p1, p2, p3 := testPeerID(t, 1), testPeerID(t, 2), testPeerID(t, 3)
	for i, p := range []string{p1, p2, p3} {
		if err := x.Update(Advert{PeerID: p}, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	gone := x.Prune(t0.Add(2 * time.Second))
	want := []string{p1, p2}
	sort.Strings(want)
	if !reflect.DeepEqual(gone, want) {
		t.Fatalf("Prune = %v, want %v", gone, want)
	}
	if !x.Remove(p3) {
		t.Fatal("Remove(p3) = false")
	}
	if x.Remove(p3) {
		t.Fatal("second Remove(p3) = true")
	}
	if n := x.Len(t0); n != 0 {
		t.Fatalf("Len = %d after removing all", n)
	}
}

func TestIndexCopiesSlices(t *testing.T) {
	now := time.Unix(0, 0)
	x := NewIndex(0)
	if x.TTL() != DefaultTTL {
		t.Fatalf("TTL = %v, want default %v", x.TTL(), DefaultTTL)
	}
	a := Advert{PeerID: testPeerID(t, 1), Roles: []string{RoleStorage}, Addrs: []string{"/ip4/127.0.0.1/tcp/1"}}
	if err := x.Update(a, now); err != nil {
		t.Fatal(err)
	}
	a.Roles[0] = RoleGateway // caller mutates its slice after Update
	got := x.Adverts(now)[0]
	if got.Roles[0] != RoleStorage {
		t.Fatal("index shares the caller's Roles slice")
	}
	got.Addrs[0] = "/ip4/10.0.0.1/tcp/1" // reader mutates what it got
	if e, _ := x.Get(a.PeerID, now); e.Advert.Addrs[0] != "/ip4/127.0.0.1/tcp/1" {
		t.Fatal("index shares its Addrs slice with readers")
	}
}

func TestIndexConcurrent(t *testing.T) {
	x := NewIndex(time.Minute)
	t0 := time.Unix(0, 0)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				now := t0.Add(time.Duration(i) * time.Millisecond)
				_ = x.Update(Advert{PeerID: testPeerID(t, i%17), Seq: uint64(i)}, now)
				x.List(now)
				x.Get(testPeerID(t, w), now)
				if i%50 == 0 {
					x.Prune(now)
				}
			}
		}()
	}
	wg.Wait()
	if n := x.Len(t0.Add(time.Second)); n != 17 {
		t.Fatalf("Len = %d, want 17", n)
	}
	for _, e := range x.List(t0.Add(time.Second)) {
		// Every peer's highest seq below 200 with i%17 == peer index.
		if e.Advert.Seq < 200-17 {
			t.Fatalf("peer %s kept seq %d, newer adverts were lost", e.Advert.PeerID, e.Advert.Seq)
		}
	}
}
