package source

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mr-tron/base58"
)

// Fuzz targets: decoders of external input never panic, fail only with
// ErrMalformed, and what they accept encodes and decodes back unchanged.

func firstLines(data []byte, n int) string {
	lines := strings.SplitAfter(string(data), "\n")
	return strings.Join(lines[:min(n, len(lines))], "")
}

func FuzzDecodeRPCBlock(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":0,"result":{"number":"0x1","hash":"0x`+strings.Repeat("1", 64)+`","parentHash":"0x`+strings.Repeat("2", 64)+`","timestamp":"0x5","miner":"0x`+strings.Repeat("3", 40)+`","gasLimit":"0x10","gasUsed":"0x0","transactions":[]}}`), []byte(nil))
	if b := seedFixture(f, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f3_true.json"); b != nil {
		f.Add(b, seedFixture(f, smallEth+"web3_response.eth_getTransactionReceipt_0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb.json"))
	}
	if b := seedFixture(f, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f2_true.json"); b != nil {
		f.Add(b, []byte(nil))
	}
	f.Fuzz(func(t *testing.T, block, receipt []byte) {
		var receipts [][]byte
		if receipt != nil {
			receipts = [][]byte{receipt}
		}
		b, err := DecodeRPCBlock(block, receipts...)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		roundTrip(t, b)
	})
}

func FuzzDecodeETL(f *testing.F) {
	blocks, txs, logs := seedFixture(f, smallEth+"expected_blocks.json"), seedFixture(f, smallEth+"expected_transactions.json"), seedFixture(f, smallEth+"expected_logs.json")
	if blocks != nil {
		f.Add(string(blocks), string(txs), string(logs))
		f.Add(string(blocks), "", string(logs))
	}
	if lb := seedFixture(f, largeEth+"blocks.json"); lb != nil {
		f.Add(string(lb), "", firstLines(seedFixture(f, largeEth+"logs.json"), 20))
	}
	f.Add(`{"number":1,"hash":"0x`+strings.Repeat("a", 64)+`","parent_hash":"0x`+strings.Repeat("b", 64)+`","timestamp":2,"miner":"0x`+strings.Repeat("c", 40)+`","gas_limit":3,"gas_used":0,"transaction_count":0}`, "", "")
	f.Fuzz(func(t *testing.T, blocks, txs, logs string) {
		var txr *strings.Reader
		if txs != "" {
			txr = strings.NewReader(txs)
		}
		var out []Block
		var err error
		if txr != nil {
			out, err = DecodeETL(strings.NewReader(blocks), txr, strings.NewReader(logs))
		} else {
			out, err = DecodeETL(strings.NewReader(blocks), nil, strings.NewReader(logs))
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		for _, b := range out {
			if b.Transactions != nil {
				roundTrip(t, b)
			}
			enc, err := b.EncodeLogs()
			if err != nil {
				t.Fatalf("accepted block does not encode: %v", err)
			}
			if _, err := DecodeBlock(enc); err != nil {
				t.Fatalf("logs view does not decode: %v", err)
			}
		}
	})
}

func roundTrip(t *testing.T, b Block) {
	t.Helper()
	enc, err := b.Encode()
	if err != nil {
		t.Fatalf("accepted block does not encode: %v", err)
	}
	back, err := DecodeBlock(enc)
	if err != nil {
		t.Fatalf("encoding does not decode: %v\n%s", err, enc)
	}
	again, err := back.Encode()
	if err != nil || !bytes.Equal(enc, again) {
		t.Fatalf("round trip changed the encoding: %v", err)
	}
}

func FuzzDecodeBlock(f *testing.F) {
	f.Add([]byte(`{"version":"ipdm.ethereum.logs.v1","number":1,"hash":"0x` + strings.Repeat("a", 64) + `","parent_hash":"0x` + strings.Repeat("b", 64) + `","timestamp":2,"miner":"0x` + strings.Repeat("c", 40) + `","gas_limit":3,"gas_used":0,"base_fee_per_gas":"7","logs":[]}`))
	if blk := seedFixture(f, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f2_true.json"); blk != nil {
		if b, err := DecodeRPCBlock(blk); err == nil {
			enc, _ := b.Encode()
			f.Add(enc)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBlock(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if b.Transactions != nil {
			roundTrip(t, b)
		} else if _, err := b.EncodeLogs(); err != nil {
			t.Fatalf("accepted block does not encode: %v", err)
		}
	})
}

func FuzzDecodeInstructionsCSV(f *testing.F) {
	if b := seedFixture(f, solTxDir+"expected_instructions.csv"); b != nil {
		f.Add(b)
	}
	if b := seedFixture(f, solSlotDir+"instructions.csv"); b != nil {
		f.Add([]byte(firstLines(b, 30)))
	}
	f.Add([]byte("tx_signature,index,parent_index,accounts,data,parsed,program,program_id,instruction_type,params\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := DecodeInstructionsCSV(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		slotRoundTrip(t, Slot{Slot: 1, Instructions: ins})
	})
}

func slotRoundTrip(t *testing.T, s Slot) {
	t.Helper()
	enc, err := s.Encode()
	if err != nil {
		t.Fatalf("accepted instructions do not encode: %v", err)
	}
	back, err := DecodeSlot(enc)
	if err != nil {
		t.Fatalf("encoding does not decode: %v", err)
	}
	again, err := back.Encode()
	if err != nil || !bytes.Equal(enc, again) {
		t.Fatalf("round trip changed the encoding: %v", err)
	}
}

func FuzzDecodeSolanaTransactions(f *testing.F) {
	if b := seedFixture(f, solTxDir+"getTransaction.json"); b != nil {
		f.Add(b)
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"slot":5,"blockTime":null,"meta":null,"transaction":{"signatures":["` + strings.Repeat("2", 88) + `"],"message":{"instructions":[{"programId":"` + strings.Repeat("3", 44) + `","accounts":[],"data":""}]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		txs, err := DecodeSolanaTransactions(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		for _, tx := range txs {
			slotRoundTrip(t, Slot{Slot: tx.Slot, Instructions: tx.Instructions})
		}
	})
}

func FuzzDecodeSlot(f *testing.F) {
	f.Add([]byte(`{"version":"ipdm.solana.instructions.v1","slot":3,"instructions":[{"tx_signature":"` + strings.Repeat("2", 88) + `","index":0,"parent_index":null,"program_id":"` + strings.Repeat("3", 44) + `","program":"","instruction_type":"","accounts":null,"data":"","parsed":"","params":{"amount":"5"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSlot(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		slotRoundTrip(t, s)
	})
}

func FuzzDecodeProgram(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 0, 1}, uint8(3))
	f.Add([]byte{0, 18, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(6))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		accounts := make([]string, n%16)
		for i := range accounts {
			accounts[i] = strings.Repeat(string(base58Alphabet[i]), 32)
		}
		in := Instruction{ProgramID: SerumDexV3ProgramID, Data: base58.Encode(data), Accounts: accounts}
		if len(data) == 0 {
			in.Data = ""
		}
		if err := DecodeProgram(&in); err != nil {
			t.Fatalf("valid base58 rejected: %v", err)
		}
		if _, err := canonicalJSON(in.Params); err != nil {
			t.Fatalf("params are not JSON: %v\n%s", err, in.Params)
		}
	})
}
