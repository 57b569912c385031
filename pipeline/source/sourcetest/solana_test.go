package sourcetest_test

import (
	"slices"
	"testing"

	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/pipeline/source/sourcetest"
)

// The zero options give a chain from slot 0 that streams, skips and
// reorganises like the fixture-based one the source tests use.
func TestSolanaFromGenesis(t *testing.T) {
	f := sourcetest.NewSolana(t, sourcetest.SolanaOptions{})
	f.Produce(5, 2)
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{}))
	r := sourcetest.NewReplay(t)
	caughtUp := func() bool { return r.Last() == f.HeadCursor() }
	r.Until(s, caughtUp)
	if got := r.Cursors(); len(got) != 5 || !slices.Equal(got, f.Cursors(0)) || f.Cursor(2) != (source.Cursor{}) {
		t.Fatalf("delivered %v, chain %v", got, f.Cursors(0))
	}
	for _, u := range r.Delivered {
		if u.Time != sourcetest.SolanaBlockTime+u.Number || u.Sol == nil || len(u.Sol.Instructions) != 0 {
			t.Errorf("slot %d: %+v", u.Number, u)
		}
	}
	ancestor := f.Cursor(3)
	f.Reorg(2, 2)
	r.Until(s, caughtUp)
	if len(r.Undos) != 1 || r.Undos[0] != ancestor || !slices.Equal(r.Cursors(), f.Cursors(0)) || f.Head() != 7 {
		t.Fatalf("undos %v (want [%v]), delivered %v, chain %v", r.Undos, ancestor, r.Cursors(), f.Cursors(0))
	}
}
