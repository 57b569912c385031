package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

const solBase = 139493613

// canonical returns the cursors of the fake's blocks from slot from on.
func (f *fakeSol) canonical(from uint64) []Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Cursor
	for s := from; s <= f.head; s++ {
		if b := f.slots[s]; b != nil {
			out = append(out, Cursor{s, b.hash})
		}
	}
	return out
}

func (f *fakeSol) headCursor() Cursor {
	c := f.canonical(f.base)
	return c[len(c)-1]
}

// getBlock results become slots: skipped slots are left out, a slot that
// is not available yet is retried, and the instructions are the fixture
// transaction's, decoded exactly as from getTransaction.
func TestSolanaRPCStream(t *testing.T) {
	txs, err := DecodeSolanaTransactions(readFixture(t, solTxDir+"getTransaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeSol(t, solBase)
	f.produce(8, solBase+2, solBase+5)
	f.notYet[solBase+4] = 2
	f.faults = func(n int, method string) fault {
		if n%5 == 2 {
			return fault429
		}
		return faultNone
	}
	s := open(t, f.url(), fastOptions(OpenOptions{From: solBase, To: solBase + 8}))
	r := readAll(t, s)
	want := f.canonical(solBase)
	if got := r.cursors(); !slices.Equal(got, want) || len(want) != 7 {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
	prev := solHash(0, solBase-1)
	for _, u := range r.delivered {
		if u.Eth != nil || u.Sol == nil || u.Sol.Slot != u.Number || u.ParentHash != prev || u.Time != 1656491831+u.Number-solBase {
			t.Errorf("unit %d: %+v", u.Number, u)
		}
		prev = u.Hash
		got, err := u.Encode(manifest.SourceSolanaInstructions)
		if err != nil {
			t.Fatal(err)
		}
		var wantIns []Instruction
		if u.Number%3 == 0 {
			wantIns = txs[0].Instructions
		}
		wantEnc, _ := Slot{Slot: u.Number, Instructions: wantIns}.Encode()
		if !bytes.Equal(got, wantEnc) {
			t.Errorf("slot %d: encoding differs from the getTransaction decoding", u.Number)
		}
		if _, err := u.Encode(manifest.SourceEthereumLogs); err == nil {
			t.Errorf("slot %d encoded as ethereum-logs", u.Number)
		}
	}
}

// A fork replacing the newest slots is undone to the newest block both
// forks share — also when that block is followed by a skipped slot.
func TestSolanaRPCLiveReorg(t *testing.T) {
	f := newFakeSol(t, solBase)
	f.produce(6, solBase+4)
	s := open(t, f.url(), fastOptions(OpenOptions{From: solBase, Concurrency: 2}))
	r := &replay{t: t}
	caughtUp := func() bool { return r.last() == f.headCursor() }
	r.until(s, caughtUp)

	// Slots base+5, base+6 replaced: base+3 is the ancestor (base+4 skipped).
	f.reorg(2, 1)
	r.until(s, caughtUp)
	if want := (Cursor{solBase + 3, solHash(0, solBase+3)}); len(r.undos) != 1 || r.undos[0] != want {
		t.Fatalf("undos %v, want [%v]", r.undos, want)
	}
	if got, want := r.cursors(), f.canonical(solBase); !slices.Equal(got, want) {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
}

// Solana has no block lookup by hash: a resume cursor the chain no longer
// has is undone MaxReorgDepth slots deep.
func TestSolanaRPCResumeReorganised(t *testing.T) {
	f := newFakeSol(t, solBase)
	f.produce(10)
	after := Cursor{solBase + 8, solHash(0, solBase+8)}
	f.reorg(3, 1)
	s := open(t, f.url(), fastOptions(OpenOptions{From: solBase, After: &after, MaxReorgDepth: 4}))
	ev, err := s.Next(context.Background())
	if want := (Cursor{solBase + 4, solHash(0, solBase+4)}); err != nil || ev.Kind != EventUndo || ev.UndoTo != want {
		t.Fatalf("first event %v %v %v, want undo to %v", ev.Kind, ev.UndoTo, err, want)
	}
	r := &replay{t: t}
	r.until(s, func() bool { return r.last() == f.headCursor() })
	if got, want := r.cursors(), f.canonical(solBase+5); !slices.Equal(got, want) {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
}

func TestSolanaRPCSkippedOnly(t *testing.T) {
	f := newFakeSol(t, solBase)
	f.produce(3, solBase+1, solBase+2, solBase+3)
	s := open(t, f.url(), fastOptions(OpenOptions{From: solBase + 1, To: solBase + 3}))
	r := readAll(t, s)
	if len(r.delivered) != 0 {
		t.Fatalf("delivered %v from skipped slots", r.cursors())
	}
	if f.count("getBlock") != 3 {
		t.Errorf("%d getBlock requests for 3 slots", f.count("getBlock"))
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the end: %v", err)
	}
}

// A node that calls a slot skipped yet names it as the next block's parent
// fails the stream instead of being asked forever.
func TestSolanaRPCContradiction(t *testing.T) {
	f := newFakeSol(t, solBase)
	f.set(func() {
		f.slots[solBase+1] = f.blockOn(solBase + 1)
		f.slots[solBase+3] = &solFakeBlock{slot: solBase + 3, hash: solHash(0, solBase+3), parentSlot: solBase + 2, parentHash: solHash(0, solBase+2)}
		f.head = solBase + 3
	})
	s := open(t, f.url(), fastOptions(OpenOptions{From: solBase, To: solBase + 3, Retries: 2}))
	r := &replay{t: t}
	var err error
	for err == nil {
		var ev Event
		if ev, err = s.Next(context.Background()); err == nil {
			r.apply(ev)
		}
	}
	if !strings.Contains(err.Error(), "contradicts itself") || len(r.undos) != 0 || len(r.delivered) != 2 {
		t.Fatalf("err = %v after %v (undos %v)", err, r.cursors(), r.undos)
	}
}
