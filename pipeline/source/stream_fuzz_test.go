package source

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Fuzz targets of the stream decoders: no panics, only ErrMalformed, and
// what is accepted encodes.

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"0:", "17:0x1dec87ec1ba8e65b7773bb6f62249468948a28a427efd3d896a2ff7d7c591a67", "18446744073709551615:abc", "01:x", "1", "1:a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if c.String() != s {
			t.Fatalf("ParseCursor(%q).String() = %q", s, c.String())
		}
	})
}

func FuzzDecodeRPCResponse(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"number":"0x1"}}`), uint64(1))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32007,"message":"Slot 5 was skipped"}}`), uint64(1))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"1","result":null}`), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, id uint64) {
		res, rerr, err := decodeRPCResponse(data, id)
		switch {
		case err != nil:
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
		case rerr != nil:
			if res != nil {
				t.Fatal("both a result and an error")
			}
		case !json.Valid(res):
			t.Fatalf("result %q is not JSON", res)
		}
	})
}

func FuzzDecodeRPCBlockReceipts(f *testing.F) {
	if blk, r1, r2 := seedFixture(f, block3), seedFixture(f, receipt1), seedFixture(f, receipt2); blk != nil && r1 != nil && r2 != nil {
		f.Add(blk, receiptsResponse(f, r1, r2))
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":0,"result":{"number":"0x1","hash":"0x`+strings.Repeat("1", 64)+`","parentHash":"0x`+strings.Repeat("2", 64)+`","timestamp":"0x5","miner":"0x`+strings.Repeat("3", 40)+`","gasLimit":"0x10","gasUsed":"0x0","transactions":[]}}`), []byte(`{"result":[]}`))
	f.Fuzz(func(t *testing.T, block, receipts []byte) {
		b, err := DecodeRPCBlockReceipts(block, receipts)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		roundTrip(t, b)
	})
}

func FuzzDecodeRPCBlockLogs(f *testing.F) {
	if blk, r1, r2 := seedFixture(f, block3), seedFixture(f, receipt1), seedFixture(f, receipt2); blk != nil && r1 != nil && r2 != nil {
		f.Add(blk, logsResponse(f, r1, r2))
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":0,"result":{"number":"0x1","hash":"0x`+strings.Repeat("1", 64)+`","parentHash":"0x`+strings.Repeat("2", 64)+`","timestamp":"0x5","miner":"0x`+strings.Repeat("3", 40)+`","gasLimit":"0x10","gasUsed":"0x0","transactions":["0x`+strings.Repeat("4", 64)+`"]}}`),
		[]byte(`{"result":[{"address":"0x`+strings.Repeat("5", 40)+`","topics":[],"data":"0x","logIndex":"0x0","transactionHash":"0x`+strings.Repeat("4", 64)+`","transactionIndex":"0x0","blockHash":"0x`+strings.Repeat("1", 64)+`","blockNumber":"0x1"}]}`))
	f.Fuzz(func(t *testing.T, block, logs []byte) {
		b, err := DecodeRPCBlockLogs(block, logs)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if b.Transactions != nil {
			t.Fatal("logs-only block has transactions")
		}
		enc, err := b.EncodeLogs()
		if err != nil {
			t.Fatalf("accepted block does not encode: %v", err)
		}
		if _, err := DecodeBlock(enc); err != nil {
			t.Fatalf("encoding does not decode: %v", err)
		}
	})
}

func FuzzDecodeSolanaBlock(f *testing.F) {
	if seedFixture(f, solTxDir+"getTransaction.json") != nil {
		f.Add(uint64(139493615), solanaBlockResponse(f, 1))
	}
	f.Add(uint64(5), []byte(`{"jsonrpc":"2.0","id":1,"result":{"blockhash":"`+strings.Repeat("2", 44)+`","previousBlockhash":"`+strings.Repeat("3", 44)+`","parentSlot":4,"blockTime":null,"transactions":[]}}`))
	f.Fuzz(func(t *testing.T, slot uint64, data []byte) {
		b, err := DecodeSolanaBlock(slot, data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if b.Slot != slot || (b.ParentSlot >= slot && slot != 0) {
			t.Fatalf("slot %d, parent %d", b.Slot, b.ParentSlot)
		}
		slotRoundTrip(t, Slot{Slot: b.Slot, Instructions: b.Instructions()})
	})
}

func FuzzDecodeETLLogs(f *testing.F) {
	if logs := seedFixture(f, largeEth+"logs.json"); logs != nil {
		f.Add(firstLines(logs, 20))
	}
	if logs := seedFixture(f, smallEth+"expected_logs.json"); logs != nil {
		f.Add(string(logs))
	}
	f.Fuzz(func(t *testing.T, logs string) {
		blocks, err := DecodeETLLogs(strings.NewReader(logs))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		for i, b := range blocks {
			if i > 0 && b.Number <= blocks[i-1].Number {
				t.Fatalf("block %d after %d", b.Number, blocks[i-1].Number)
			}
			for j := 1; j < len(b.Logs); j++ {
				if b.Logs[j].Index <= b.Logs[j-1].Index {
					t.Fatalf("block %d: logs out of order", b.Number)
				}
			}
		}
	})
}
