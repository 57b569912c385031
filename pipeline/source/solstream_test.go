package source_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/pipeline/source/sourcetest"
)

const solBase = 139493613

// newFakeSol serves slots from solBase on; those that are multiples of 3
// carry the fixture transaction.
func newFakeSol(t testing.TB) *sourcetest.Solana {
	t.Helper()
	var batch []struct {
		Result struct {
			Transaction json.RawMessage `json:"transaction"`
			Meta        json.RawMessage `json:"meta"`
		} `json:"result"`
	}
	if err := json.Unmarshal(source.ReadFixture(t, source.SolTxDir+"getTransaction.json"), &batch); err != nil {
		t.Fatal(err)
	}
	entry, err := json.Marshal(map[string]any{"transaction": batch[0].Result.Transaction, "meta": batch[0].Result.Meta, "version": 0})
	if err != nil {
		t.Fatal(err)
	}
	return sourcetest.NewSolana(t, sourcetest.SolanaOptions{
		First: solBase,
		Transactions: func(slot uint64) []json.RawMessage {
			if slot%3 == 0 {
				return []json.RawMessage{entry}
			}
			return nil
		},
	})
}

// getBlock results become slots: skipped slots are left out, a slot that
// is not available yet is retried, and the instructions are the fixture
// transaction's, decoded exactly as from getTransaction.
func TestSolanaRPCStream(t *testing.T) {
	txs, err := source.DecodeSolanaTransactions(source.ReadFixture(t, source.SolTxDir+"getTransaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeSol(t)
	f.Produce(8, solBase+2, solBase+5)
	f.NotYet(solBase+4, 2)
	f.SetFaults(func(n int, method string) sourcetest.Fault {
		if n%5 == 2 {
			return sourcetest.FaultTooManyRequests
		}
		return sourcetest.FaultNone
	})
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: solBase, To: solBase + 8}))
	r := sourcetest.ReadAll(t, s)
	want := f.Cursors(solBase)
	if got := r.Cursors(); !slices.Equal(got, want) || len(want) != 7 {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
	prev := f.Cursor(solBase - 1).Hash
	for _, u := range r.Delivered {
		if u.Eth != nil || u.Sol == nil || u.Sol.Slot != u.Number || u.ParentHash != prev || u.Time != sourcetest.SolanaBlockTime+u.Number-solBase {
			t.Errorf("unit %d: %+v", u.Number, u)
		}
		prev = u.Hash
		got, err := u.Encode(manifest.SourceSolanaInstructions)
		if err != nil {
			t.Fatal(err)
		}
		var wantIns []source.Instruction
		if u.Number%3 == 0 {
			wantIns = txs[0].Instructions
		}
		wantEnc, _ := source.Slot{Slot: u.Number, Instructions: wantIns}.Encode()
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
	f := newFakeSol(t)
	f.Produce(6, solBase+4)
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: solBase, Concurrency: 2}))
	r := sourcetest.NewReplay(t)
	caughtUp := func() bool { return r.Last() == f.HeadCursor() }
	r.Until(s, caughtUp)

	// Slots base+5, base+6 replaced: base+3 is the ancestor (base+4 skipped).
	want := f.Cursor(solBase + 3)
	f.Reorg(2, 1)
	r.Until(s, caughtUp)
	if len(r.Undos) != 1 || r.Undos[0] != want {
		t.Fatalf("undos %v, want [%v]", r.Undos, want)
	}
	if got, want := r.Cursors(), f.Cursors(solBase); !slices.Equal(got, want) {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
}

// Solana has no block lookup by hash: a resume cursor the chain no longer
// has is undone MaxReorgDepth slots deep.
func TestSolanaRPCResumeReorganised(t *testing.T) {
	f := newFakeSol(t)
	f.Produce(10)
	after := f.Cursor(solBase + 8)
	f.Reorg(3, 1)
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: solBase, After: &after, MaxReorgDepth: 4}))
	ev, err := s.Next(context.Background())
	if want := f.Cursor(solBase + 4); err != nil || ev.Kind != source.EventUndo || ev.UndoTo != want {
		t.Fatalf("first event %v %v %v, want undo to %v", ev.Kind, ev.UndoTo, err, want)
	}
	r := sourcetest.NewReplay(t)
	r.Until(s, func() bool { return r.Last() == f.HeadCursor() })
	if got, want := r.Cursors(), f.Cursors(solBase+5); !slices.Equal(got, want) {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
}

func TestSolanaRPCSkippedOnly(t *testing.T) {
	f := newFakeSol(t)
	f.Produce(3, solBase+1, solBase+2, solBase+3)
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: solBase + 1, To: solBase + 3}))
	r := sourcetest.ReadAll(t, s)
	if len(r.Delivered) != 0 {
		t.Fatalf("delivered %v from skipped slots", r.Cursors())
	}
	if f.Requests("getBlock") != 3 {
		t.Errorf("%d getBlock requests for 3 slots", f.Requests("getBlock"))
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the end: %v", err)
	}
}

// A node that calls a slot skipped yet names it as the next block's parent
// fails the stream instead of being asked forever.
func TestSolanaRPCContradiction(t *testing.T) {
	f := newFakeSol(t)
	f.Produce(3, solBase+2)
	f.SetParent(solBase+3, solBase+2)
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: solBase, To: solBase + 3, Retries: 2}))
	r := sourcetest.NewReplay(t)
	var err error
	for err == nil {
		var ev source.Event
		if ev, err = s.Next(context.Background()); err == nil {
			r.Apply(ev)
		}
	}
	if !strings.Contains(err.Error(), "contradicts itself") || len(r.Undos) != 0 || len(r.Delivered) != 2 {
		t.Fatalf("err = %v after %v (undos %v)", err, r.Cursors(), r.Undos)
	}
}
