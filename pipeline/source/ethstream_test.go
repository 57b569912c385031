package source_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/pipeline/source/sourcetest"
)

// ethBase is the first fixture block, 0x1ac9f2.
const ethBase = 1755634

func q(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

// fixturePrefix returns the fixture blocks 1755634 and 1755635 as the node
// recorded them.
func fixturePrefix(t testing.TB) []sourcetest.RecordedBlock {
	t.Helper()
	var out []sourcetest.RecordedBlock
	for _, name := range []string{"0x1ac9f2", "0x1ac9f3"} {
		rec := sourcetest.RecordedBlock{Block: source.ResultOf(t, source.ReadFixture(t, source.SmallEth+"web3_response.eth_getBlockByNumber_"+name+"_true.json"))}
		var b struct {
			Transactions []struct {
				Hash string `json:"hash"`
			} `json:"transactions"`
		}
		if err := json.Unmarshal(rec.Block, &b); err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Transactions {
			rec.Receipts = append(rec.Receipts, source.ResultOf(t, source.ReadFixture(t, source.SmallEth+"web3_response.eth_getTransactionReceipt_"+tx.Hash+".json")))
		}
		out = append(out, rec)
	}
	return out
}

// newFakeEth serves the two fixture blocks, then synthetic blocks: block n
// carries n%3 transfers, so some blocks are empty.
func newFakeEth(t testing.TB, synthetic int, opts sourcetest.EthereumOptions) *sourcetest.Ethereum {
	t.Helper()
	opts.Prefix = fixturePrefix(t)
	opts.Blocks = synthetic
	opts.Transfers = func(n uint64) int { return int(n % 3) }
	return sourcetest.NewEthereum(t, opts)
}

// The backfill of a flaky node delivers exactly the canonical chain, with
// blocks identical to the fixture's — through every receipt path.
func TestEthereumRPCBackfill(t *testing.T) {
	etl := source.ETLFixture(t, source.SmallEth, "expected_blocks.json", "expected_transactions.json", "expected_logs.json")
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
			f := newFakeEth(t, 30, sourcetest.EthereumOptions{NoBlockReceipts: tc.noBlockReceipts})
			f.SetFaults(func(n int, method string) sourcetest.Fault {
				switch {
				case n%7 == 3:
					return sourcetest.FaultInternalError
				case n%11 == 5:
					return sourcetest.FaultTooManyRequests
				case n%13 == 8:
					return sourcetest.FaultHang
				case n%17 == 2:
					return sourcetest.FaultGarbage
				}
				return sourcetest.FaultNone
			})
			head := f.Head()
			s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, To: head, Retries: 10, RequestTimeout: 100 * time.Millisecond, LogsOnly: tc.logsOnly}))
			r := sourcetest.ReadAll(t, s)
			if got, want := r.Cursors(), f.Cursors(ethBase); !slices.Equal(got, want) {
				t.Fatalf("delivered %v\nwant %v", got, want)
			}
			if len(r.Undos) != 0 {
				t.Errorf("undos %v on a stable chain", r.Undos)
			}
			canon := f.Canonical()
			for i, u := range r.Delivered {
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
				// Every block as the fake's model has it.
				want, _ := canon[i].EncodeLogs()
				if got, err := u.Encode(manifest.SourceEthereumLogs); err != nil || !bytes.Equal(got, want) {
					t.Errorf("block %d logs encoding %s, %v\nwant %s", u.Number, got, err, want)
				}
				if !tc.logsOnly {
					want, _ := canon[i].Encode()
					if got, err := u.Encode(manifest.SourceEthereumBlock); err != nil || !bytes.Equal(got, want) {
						t.Errorf("block %d encoding %s, %v\nwant %s", u.Number, got, err, want)
					}
				}
				if wantTxs := int(u.Number % 3); i >= 2 && len(u.Eth.Logs) != wantTxs {
					t.Errorf("block %d has %d logs, want %d", u.Number, len(u.Eth.Logs), wantTxs)
				}
				if tc.logsOnly {
					if _, err := u.Encode(manifest.SourceEthereumBlock); !errors.Is(err, source.ErrIncomplete) {
						t.Fatalf("logs-only block encoded as ethereum-block: %v", err)
					}
				} else if i >= 2 && len(u.Eth.Transactions) != int(u.Number%3) {
					t.Errorf("block %d has %d transactions", u.Number, len(u.Eth.Transactions))
				}
			}
			switch {
			case tc.logsOnly:
				if f.Requests("eth_getLogs") < len(r.Delivered) || f.Requests("eth_getBlockReceipts")+f.Requests("eth_getTransactionReceipt") != 0 {
					t.Errorf("logs only: requests %v", f.RequestCounts())
				}
			case tc.noBlockReceipts:
				// Each fetcher learns of the missing method at most once.
				if n := f.Requests("eth_getBlockReceipts"); n > source.DefaultConcurrency*3 {
					t.Errorf("eth_getBlockReceipts tried %d times", n)
				}
				if f.Requests("eth_getTransactionReceipt") < 30 {
					t.Errorf("per-transaction receipts: %d requests", f.Requests("eth_getTransactionReceipt"))
				}
			default:
				if f.Requests("eth_getTransactionReceipt") != 0 {
					t.Errorf("fell back to per-transaction receipts: %v", f.RequestCounts())
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
	f := newFakeEth(t, 8, sourcetest.EthereumOptions{})
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, Concurrency: 3}))
	r := sourcetest.NewReplay(t)
	caughtUp := func() bool { return r.Last() == f.HeadCursor() }
	r.Until(s, caughtUp)

	f.Extend(2)
	r.Until(s, caughtUp)
	if len(r.Undos) != 0 {
		t.Fatalf("undo %v without a reorganisation", r.Undos)
	}

	for _, depth := range []int{3, 1, 5} {
		head := f.Head()
		ancestor := f.Cursor(head - uint64(depth))
		undos := len(r.Undos)
		f.Reorg(depth, 2)
		r.Until(s, caughtUp)
		if got := r.Undos[undos:]; len(got) != 1 || got[0] != ancestor {
			t.Fatalf("reorg of depth %d: undos %v, want [%v]", depth, got, ancestor)
		}
		if got, want := r.Cursors(), f.Cursors(ethBase); !slices.Equal(got, want) {
			t.Fatalf("after the reorg of depth %d: delivered %v\nwant %v", depth, got, want)
		}
	}
}

// With Confirmations, the newest blocks wait until the head is past them.
func TestEthereumRPCConfirmations(t *testing.T) {
	f := newFakeEth(t, 6, sourcetest.EthereumOptions{})
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, Confirmations: 2}))
	r := sourcetest.NewReplay(t)
	r.Until(s, func() bool { return r.Last().Number == f.Head()-2 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if ev, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delivered %+v, %v before it had 2 confirmations", ev.Unit.Number, err)
	}
	// The caller's deadline does not break the stream.
	f.Extend(1)
	r.Until(s, func() bool { return r.Last().Number == f.Head()-2 })
}

// Resuming after a cursor: on the same chain the next block follows; on a
// chain that reorganised meanwhile, an undo to the common ancestor comes
// first — traced through eth_getBlockByHash, or assumed MaxReorgDepth deep
// when the node forgot the abandoned blocks.
func TestEthereumRPCResume(t *testing.T) {
	t.Run("same chain", func(t *testing.T) {
		f := newFakeEth(t, 10, sourcetest.EthereumOptions{})
		after := f.Cursor(ethBase + 7)
		s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, After: &after, To: ethBase + 9}))
		r := sourcetest.ReadAll(t, s)
		if got, want := r.Cursors(), f.Cursors(ethBase + 8)[:2]; !slices.Equal(got, want) || len(r.Undos) != 0 {
			t.Fatalf("delivered %v (undos %v), want %v", got, r.Undos, want)
		}
	})
	for _, forget := range []bool{false, true} {
		name := map[bool]string{false: "reorganised, traced by hash", true: "reorganised, node forgot the fork"}[forget]
		t.Run(name, func(t *testing.T) {
			f := newFakeEth(t, 12, sourcetest.EthereumOptions{ForgetOrphans: forget})
			after := f.Cursor(ethBase + 10)
			f.Reorg(5, 1) // blocks base+9.. replaced; base+8 is the ancestor
			want := f.Cursor(ethBase + 8)
			if forget {
				want = f.Cursor(ethBase + 10 - 6) // MaxReorgDepth below the cursor
			}
			s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, After: &after, MaxReorgDepth: 6}))
			ev, err := s.Next(context.Background())
			if err != nil || ev.Kind != source.EventUndo || ev.UndoTo != want {
				t.Fatalf("first event %v %v %v, want undo to %v", ev.Kind, ev.UndoTo, err, want)
			}
			r := sourcetest.NewReplay(t)
			r.Until(s, func() bool { return r.Last() == f.HeadCursor() })
			if got, wantChain := r.Cursors(), f.Cursors(want.Number+1); !slices.Equal(got, wantChain) {
				t.Fatalf("delivered %v\nwant %v", got, wantChain)
			}
		})
	}
}

func TestEthereumRPCReorgTooDeep(t *testing.T) {
	f := newFakeEth(t, 8, sourcetest.EthereumOptions{})
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, MaxReorgDepth: 2}))
	r := sourcetest.NewReplay(t)
	r.Until(s, func() bool { return r.Last() == f.HeadCursor() })
	last := r.Last()
	f.Reorg(4, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Next(ctx)
	var re *source.ReorgError
	if !errors.Is(err, source.ErrReorgTooDeep) || !errors.As(err, &re) || re.Last != last || re.MaxDepth != 2 {
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
	f := newFakeEth(t, 10, sourcetest.EthereumOptions{})
	const rps = 50
	start := time.Now()
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, To: ethBase + 11, RequestsPerSecond: rps, Concurrency: 8}))
	sourcetest.ReadAll(t, s)
	elapsed := time.Since(start)
	n := f.Requests("")
	if min := time.Duration(n-1) * time.Second / rps * 8 / 10; elapsed < min {
		t.Errorf("%d requests in %v: faster than %d per second", n, elapsed, rps)
	}
	times := f.RequestTimes()
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
		f := newFakeEth(t, 24, sourcetest.EthereumOptions{})
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(1, 2))
		f.SetLatency(func(string, []json.RawMessage) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return time.Duration(rng.IntN(8)) * time.Millisecond
		})
		s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, To: ethBase + 25, Concurrency: conc}))
		r := sourcetest.ReadAll(t, s)
		if got, want := r.Cursors(), f.Cursors(ethBase); !slices.Equal(got, want) {
			t.Fatalf("concurrency %d: delivered %v", conc, got)
		}
		if inFlight := f.MaxInFlight(); inFlight > conc || (conc > 1 && inFlight < 2) {
			t.Errorf("concurrency %d: %d requests in flight at most", conc, inFlight)
		}
	}
}

// Errors name the method, the block and what the node said; permanent ones
// are not retried, transient ones are retried Retries times.
func TestEthereumRPCErrors(t *testing.T) {
	t.Run("json-rpc error", func(t *testing.T) {
		f := newFakeEth(t, 5, sourcetest.EthereumOptions{})
		f.SetErrors(func(method string, params []json.RawMessage) *sourcetest.ErrorObject {
			if method == "eth_getBlockByNumber" && string(params[0]) == `"`+q(ethBase+3)+`"` {
				return &sourcetest.ErrorObject{Code: -32000, Message: "missing trie node"}
			}
			return nil
		})
		s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, To: ethBase + 5, Concurrency: 1}))
		ctx := context.Background()
		var err error
		for err == nil {
			_, err = s.Next(ctx)
		}
		var re *source.RPCError
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
		f := newFakeEth(t, 1, sourcetest.EthereumOptions{})
		f.SetFaults(func(int, string) sourcetest.Fault { return sourcetest.FaultForbidden })
		s := sourcetest.Open(t, f.URI()+"/v3/secretkey", sourcetest.FastOptions(source.OpenOptions{}))
		_, err := s.Next(context.Background())
		var he *source.HTTPError
		if !errors.As(err, &he) || he.Status != 403 || he.Method != "eth_blockNumber" || f.Requests("") != 1 {
			t.Fatalf("err = %v after %d requests", err, f.Requests(""))
		}
		if strings.Contains(err.Error(), "secretkey") {
			t.Errorf("error %q shows the URL path", err)
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		f := newFakeEth(t, 1, sourcetest.EthereumOptions{})
		f.SetFaults(func(int, string) sourcetest.Fault { return sourcetest.FaultInternalError })
		s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{Retries: 2}))
		_, err := s.Next(context.Background())
		var he *source.HTTPError
		if !errors.Is(err, source.ErrUnavailable) || !errors.As(err, &he) || he.Status != 500 || f.Requests("") != 3 {
			t.Fatalf("err = %v after %d requests, want ErrUnavailable after 3", err, f.Requests(""))
		}
		if !strings.Contains(err.Error(), "3 attempts") {
			t.Errorf("error %q does not count attempts", err)
		}
	})
	t.Run("malformed block", func(t *testing.T) {
		f := newFakeEth(t, 4, sourcetest.EthereumOptions{})
		f.SetRewrite(func(method string, params []json.RawMessage, result json.RawMessage) json.RawMessage {
			if method == "eth_getBlockByNumber" && string(params[0]) == `"`+q(ethBase+3)+`"` {
				return json.RawMessage(strings.Replace(string(result), `"miner":"0x`, `"miner":"0xzz`, 1))
			}
			return result
		})
		s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase, To: ethBase + 5}))
		var err error
		for err == nil {
			_, err = s.Next(context.Background())
		}
		if !errors.Is(err, source.ErrMalformed) || !strings.Contains(err.Error(), "block 1755637") || !strings.Contains(err.Error(), "miner") {
			t.Fatalf("err = %v", err)
		}
	})
}

// Close stops a stream blocked waiting for the head, from another
// goroutine, and later calls report ErrClosed.
func TestEthereumRPCClose(t *testing.T) {
	f := newFakeEth(t, 2, sourcetest.EthereumOptions{})
	s, err := source.Open(context.Background(), f.URI(), sourcetest.FastOptions(source.OpenOptions{From: ethBase + 100, PollInterval: time.Hour}))
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
		if !errors.Is(err, source.ErrClosed) {
			t.Errorf("Next during Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after Close")
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, source.ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	s.Close()
}
