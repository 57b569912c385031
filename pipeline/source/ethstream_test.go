package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// readAll reads a finite stream to io.EOF.
func readAll(t testing.TB, s Stream) *replay {
	t.Helper()
	r := &replay{t: t}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		ev, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			t.Fatalf("Next: %v (delivered through %v)", err, r.last())
		}
		r.apply(ev)
	}
}

// The backfill of a flaky node delivers exactly the canonical chain, with
// blocks identical to the fixture's — through every receipt path.
func TestEthereumRPCBackfill(t *testing.T) {
	etl := etlFixture(t, smallEth, "expected_blocks.json", "expected_transactions.json", "expected_logs.json")
	for _, tc := range []struct {
		name            string
		noBlockReceipts bool
		logsOnly        bool
	}{
		{"block receipts", false, false},
		{"receipts per transaction", true, false},
		{"logs only", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEth(t, 30)
			f.noBlockReceipts = tc.noBlockReceipts
			f.faults = func(n int, method string) fault {
				switch {
				case n%7 == 3:
					return fault500
				case n%11 == 5:
					return fault429
				case n%13 == 8:
					return faultHang
				case n%17 == 2:
					return faultGarbage
				}
				return faultNone
			}
			head := f.headNumber()
			s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, To: head, Retries: 10, RequestTimeout: 100 * time.Millisecond, LogsOnly: tc.logsOnly}))
			r := readAll(t, s)
			if got, want := r.cursors(), f.chain(ethBase); !slices.Equal(got, want) {
				t.Fatalf("delivered %v\nwant %v", got, want)
			}
			if len(r.undos) != 0 {
				t.Errorf("undos %v on a stable chain", r.undos)
			}
			for i, u := range r.delivered {
				if u.Eth == nil || u.Sol != nil || u.ParentHash != u.Eth.ParentHash || u.Time != u.Eth.Timestamp || u.Time == 0 {
					t.Fatalf("unit %d: %+v", u.Number, u)
				}
				if i < 2 { // the fixture blocks: as ethereum-etl exported them
					want, _ := etl[i].EncodeLogs()
					got, err := u.Encode(manifest.SourceEthereumLogs)
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("block %d logs encoding %s, %v\nwant %s", u.Number, got, err, want)
					}
					if !tc.logsOnly {
						want, _ := etl[i].Encode()
						got, err := u.Encode(manifest.SourceEthereumBlock)
						if err != nil || !bytes.Equal(got, want) {
							t.Errorf("block %d encoding %s, %v\nwant %s", u.Number, got, err, want)
						}
					}
				}
				if wantTxs := int(u.Number % 3); i >= 2 && len(u.Eth.Logs) != wantTxs {
					t.Errorf("block %d has %d logs, want %d", u.Number, len(u.Eth.Logs), wantTxs)
				}
				if tc.logsOnly {
					if _, err := u.Encode(manifest.SourceEthereumBlock); !errors.Is(err, ErrIncomplete) {
						t.Fatalf("logs-only block encoded as ethereum-block: %v", err)
					}
				} else if i >= 2 && len(u.Eth.Transactions) != int(u.Number%3) {
					t.Errorf("block %d has %d transactions", u.Number, len(u.Eth.Transactions))
				}
			}
			switch {
			case tc.logsOnly:
				if f.count("eth_getLogs") < len(r.delivered) || f.count("eth_getBlockReceipts")+f.count("eth_getTransactionReceipt") != 0 {
					t.Errorf("logs only: requests %v", f.perMethod)
				}
			case tc.noBlockReceipts:
				// Each fetcher learns of the missing method at most once.
				if n := f.count("eth_getBlockReceipts"); n > DefaultConcurrency*3 {
					t.Errorf("eth_getBlockReceipts tried %d times", n)
				}
				if f.count("eth_getTransactionReceipt") < 30 {
					t.Errorf("per-transaction receipts: %d requests", f.count("eth_getTransactionReceipt"))
				}
			default:
				if f.count("eth_getTransactionReceipt") != 0 {
					t.Errorf("fell back to per-transaction receipts: %v", f.perMethod)
				}
			}
			if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
				t.Errorf("Next after the end: %v", err)
			}
		})
	}
}

// Following the head live: new blocks arrive, the head is replaced by a
// fork, and the stream undoes to the common ancestor before delivering the
// fork.
func TestEthereumRPCLiveReorg(t *testing.T) {
	f := newFakeEth(t, 8)
	s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, Concurrency: 3}))
	r := &replay{t: t}
	caughtUp := func() bool { return r.last() == f.cursor(f.headNumber()) }
	r.until(s, caughtUp)

	f.extend(2)
	r.until(s, caughtUp)
	if len(r.undos) != 0 {
		t.Fatalf("undo %v without a reorganisation", r.undos)
	}

	for _, depth := range []int{3, 1, 5} {
		head := f.headNumber()
		ancestor := f.cursor(head - uint64(depth))
		undos := len(r.undos)
		f.reorg(depth, 2)
		r.until(s, caughtUp)
		if got := r.undos[undos:]; len(got) != 1 || got[0] != ancestor {
			t.Fatalf("reorg of depth %d: undos %v, want [%v]", depth, got, ancestor)
		}
		if got, want := r.cursors(), f.chain(ethBase); !slices.Equal(got, want) {
			t.Fatalf("after the reorg of depth %d: delivered %v\nwant %v", depth, got, want)
		}
	}
}

// With Confirmations, the newest blocks wait until the head is past them.
func TestEthereumRPCConfirmations(t *testing.T) {
	f := newFakeEth(t, 6)
	s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, Confirmations: 2}))
	r := &replay{t: t}
	r.until(s, func() bool { return r.last().Number == f.headNumber()-2 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if ev, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delivered %+v, %v before it had 2 confirmations", ev.Unit.Number, err)
	}
	// The caller's deadline does not break the stream.
	f.extend(1)
	r.until(s, func() bool { return r.last().Number == f.headNumber()-2 })
}

// Resuming after a cursor: on the same chain the next block follows; on a
// chain that reorganised meanwhile, an undo to the common ancestor comes
// first — traced through eth_getBlockByHash, or assumed MaxReorgDepth deep
// when the node forgot the abandoned blocks.
func TestEthereumRPCResume(t *testing.T) {
	t.Run("same chain", func(t *testing.T) {
		f := newFakeEth(t, 10)
		after := f.cursor(ethBase + 7)
		s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, After: &after, To: ethBase + 9}))
		r := readAll(t, s)
		if got, want := r.cursors(), f.chain(ethBase + 8)[:2]; !slices.Equal(got, want) || len(r.undos) != 0 {
			t.Fatalf("delivered %v (undos %v), want %v", got, r.undos, want)
		}
	})
	for _, forget := range []bool{false, true} {
		name := map[bool]string{false: "reorganised, traced by hash", true: "reorganised, node forgot the fork"}[forget]
		t.Run(name, func(t *testing.T) {
			f := newFakeEth(t, 12)
			f.forgetOrphans = forget
			after := f.cursor(ethBase + 10)
			f.reorg(5, 1) // blocks base+9.. replaced; base+8 is the ancestor
			want := f.cursor(ethBase + 8)
			if forget {
				want = f.cursor(ethBase + 10 - 6) // MaxReorgDepth below the cursor
			}
			s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, After: &after, MaxReorgDepth: 6}))
			ev, err := s.Next(context.Background())
			if err != nil || ev.Kind != EventUndo || ev.UndoTo != want {
				t.Fatalf("first event %v %v %v, want undo to %v", ev.Kind, ev.UndoTo, err, want)
			}
			r := &replay{t: t}
			r.until(s, func() bool { return r.last() == f.cursor(f.headNumber()) })
			if got, wantChain := r.cursors(), f.chain(want.Number+1); !slices.Equal(got, wantChain) {
				t.Fatalf("delivered %v\nwant %v", got, wantChain)
			}
		})
	}
}

func TestEthereumRPCReorgTooDeep(t *testing.T) {
	f := newFakeEth(t, 8)
	s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, MaxReorgDepth: 2}))
	r := &replay{t: t}
	r.until(s, func() bool { return r.last() == f.cursor(f.headNumber()) })
	last := r.last()
	f.reorg(4, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Next(ctx)
	var re *ReorgError
	if !errors.Is(err, ErrReorgTooDeep) || !errors.As(err, &re) || re.Last != last || re.MaxDepth != 2 {
		t.Fatalf("err = %v, want a ReorgError at %v", err, last)
	}
	if !strings.Contains(err.Error(), last.String()) {
		t.Errorf("error %q does not name the block", err)
	}
	if _, again := s.Next(ctx); again != err {
		t.Errorf("second Next: %v, want the same final error", again)
	}
}

// The rate limit spaces requests: no burst beyond one token per interval,
// checked loosely over the whole run and in short windows.
func TestEthereumRPCRateLimit(t *testing.T) {
	f := newFakeEth(t, 10)
	const rps = 50
	start := time.Now()
	s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, To: ethBase + 11, RequestsPerSecond: rps, Concurrency: 8}))
	readAll(t, s)
	elapsed := time.Since(start)
	n := f.count("")
	if min := time.Duration(n-1) * time.Second / rps * 8 / 10; elapsed < min {
		t.Errorf("%d requests in %v: faster than %d per second", n, elapsed, rps)
	}
	f.mu.Lock()
	times := slices.Clone(f.times)
	f.mu.Unlock()
	for i := range times {
		j := i
		for j < len(times) && times[j].Sub(times[i]) < 250*time.Millisecond {
			j++
		}
		if j-i > rps/4+3 { // slack for requests delayed on their way
			t.Fatalf("%d requests within 250ms at %d per second", j-i, rps)
		}
	}
}

// Blocks fetched in parallel with random latency still come in order, and
// Concurrency bounds the requests in flight.
func TestEthereumRPCConcurrencyOrder(t *testing.T) {
	for _, conc := range []int{1, 6} {
		f := newFakeEth(t, 24)
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(1, 2))
		f.latency = func(string, []json.RawMessage) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return time.Duration(rng.IntN(8)) * time.Millisecond
		}
		s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, To: ethBase + 25, Concurrency: conc}))
		r := readAll(t, s)
		if got, want := r.cursors(), f.chain(ethBase); !slices.Equal(got, want) {
			t.Fatalf("concurrency %d: delivered %v", conc, got)
		}
		f.mu.Lock()
		inFlight := f.maxInFlight
		f.mu.Unlock()
		if inFlight > conc || (conc > 1 && inFlight < 2) {
			t.Errorf("concurrency %d: %d requests in flight at most", conc, inFlight)
		}
	}
}

// Errors name the method, the block and what the node said; permanent ones
// are not retried, transient ones are retried Retries times.
func TestEthereumRPCErrors(t *testing.T) {
	t.Run("json-rpc error", func(t *testing.T) {
		f := newFakeEth(t, 5)
		f.errorFor = func(method string, params []json.RawMessage) *rpcErrorObject {
			if method == "eth_getBlockByNumber" && string(params[0]) == `"`+q(ethBase+3)+`"` {
				return &rpcErrorObject{-32000, "missing trie node"}
			}
			return nil
		}
		s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, To: ethBase + 5, Concurrency: 1}))
		ctx := context.Background()
		var err error
		for err == nil {
			_, err = s.Next(ctx)
		}
		var re *RPCError
		if !errors.As(err, &re) || re.Method != "eth_getBlockByNumber" || re.Block != ethBase+3 || !re.HasBlock || re.Code != -32000 || re.Message != "missing trie node" {
			t.Fatalf("err = %#v", err)
		}
		for _, w := range []string{"ethereum-rpc", "eth_getBlockByNumber", "block 1755637", "-32000", "missing trie node"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
		if _, again := s.Next(ctx); again != err {
			t.Errorf("error not final: %v", again)
		}
	})
	t.Run("http 403", func(t *testing.T) {
		f := newFakeEth(t, 1)
		f.faults = func(int, string) fault { return faultForbidden }
		s := open(t, "ethereum-rpc:"+f.srv.URL+"/v3/secretkey", fastOptions(OpenOptions{}))
		_, err := s.Next(context.Background())
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 403 || he.Method != "eth_blockNumber" || f.count("") != 1 {
			t.Fatalf("err = %v after %d requests", err, f.count(""))
		}
		if strings.Contains(err.Error(), "secretkey") {
			t.Errorf("error %q shows the URL path", err)
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		f := newFakeEth(t, 1)
		f.faults = func(int, string) fault { return fault500 }
		s := open(t, f.url(), fastOptions(OpenOptions{Retries: 2}))
		_, err := s.Next(context.Background())
		var he *HTTPError
		if !errors.Is(err, ErrUnavailable) || !errors.As(err, &he) || he.Status != 500 || f.count("") != 3 {
			t.Fatalf("err = %v after %d requests, want ErrUnavailable after 3", err, f.count(""))
		}
		if !strings.Contains(err.Error(), "3 attempts") {
			t.Errorf("error %q does not count attempts", err)
		}
	})
	t.Run("malformed block", func(t *testing.T) {
		f := newFakeEth(t, 4)
		f.set(func() {
			b := f.canon[3]
			b.full = json.RawMessage(strings.Replace(string(b.full), `"miner":"0x`, `"miner":"0xzz`, 1))
		})
		s := open(t, f.url(), fastOptions(OpenOptions{From: ethBase, To: ethBase + 5}))
		var err error
		for err == nil {
			_, err = s.Next(context.Background())
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "block 1755637") || !strings.Contains(err.Error(), "miner") {
			t.Fatalf("err = %v", err)
		}
	})
}

// Close stops a stream blocked waiting for the head, from another
// goroutine, and later calls report ErrClosed.
func TestEthereumRPCClose(t *testing.T) {
	f := newFakeEth(t, 2)
	s, err := Open(context.Background(), f.url(), fastOptions(OpenOptions{From: ethBase + 100, PollInterval: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := s.Next(context.Background())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next during Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after Close")
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	s.Close()
}
