package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// File sources: the file or directory is decoded whole by Open into units,
// which the stream then hands out.

var (
	etlFileName      = regexp.MustCompile(`^(.*)(blocks|transactions|logs)\.json$`)
	rpcBlockFileName = regexp.MustCompile(`^web3_response\.eth_getBlockByNumber_(0x[0-9a-fA-F]+)_true\.json$`)
	slotName         = regexp.MustCompile(`(?:^|[^0-9A-Za-z])slot[-_]([0-9]+)(?:$|[^0-9])`)
)

const rpcReceiptFile = "web3_response.eth_getTransactionReceipt_%s.json"

func openFile(ctx context.Context, path string, o OpenOptions) (Stream, error) {
	units, err := readFileUnits(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := 1; i < len(units); i++ {
		if units[i].Number <= units[i-1].Number {
			return nil, &DecodeError{Input: "file " + path, Block: units[i].Number, HasBlock: true, Err: fmt.Errorf("block %d follows block %d: blocks must be unique", units[i].Number, units[i-1].Number)}
		}
	}
	first, _ := o.start()
	if a := o.After; a != nil && a.Hash != "" {
		i := sort.Search(len(units), func(i int) bool { return units[i].Number >= a.Number })
		if i < len(units) && units[i].Number == a.Number && units[i].Hash != "" && units[i].Hash != a.Hash {
			return nil, fmt.Errorf("%w: file %s has block %d with hash %s, the cursor says %s", ErrCursorMismatch, path, a.Number, units[i].Hash, a.Hash)
		}
	}
	lo := sort.Search(len(units), func(i int) bool { return units[i].Number >= first })
	hi := len(units)
	if o.To != 0 {
		hi = sort.Search(len(units), func(i int) bool { return units[i].Number > o.To })
	}
	return &fileStream{units: units[lo:max(lo, hi)]}, nil
}

// fileStream hands out decoded units.
type fileStream struct {
	mu     sync.Mutex
	units  []Unit
	closed bool
}

func (s *fileStream) Next(ctx context.Context) (Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Event{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	if len(s.units) == 0 {
		return Event{}, io.EOF
	}
	u := s.units[0]
	s.units = s.units[1:]
	return Event{Kind: EventBlock, Unit: u}, nil
}

func (s *fileStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.units = nil
	return nil
}

// readFileUnits detects the format of path and decodes it.
func readFileUnits(path string) ([]Unit, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("source: file: %w", err)
	}
	if fi.IsDir() {
		return readDir(path)
	}
	dir, base := filepath.Split(path)
	if m := etlFileName.FindStringSubmatch(base); m != nil {
		return readETL(dir, m[1])
	}
	if rpcBlockFileName.MatchString(base) {
		return readRPCFiles(dir, []string{path})
	}
	if strings.EqualFold(filepath.Ext(base), ".csv") {
		return readSolanaCSV(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("source: file: %w", err)
	}
	switch sniffJSON(data) {
	case "solana-transaction":
		return solanaTransactionUnits(data)
	case "ethereum-block":
		return readRPCFiles(dir, []string{path})
	}
	return nil, fmt.Errorf("%w: file %s: not a format a file source reads (ethereum-etl blocks/transactions/logs.json, "+
		"JSON-RPC eth_getBlockByNumber responses, solana-etl instructions CSV, Solana getTransaction responses)", ErrUnsupported, path)
}

// readDir picks the format from the names in a directory.
func readDir(dir string) ([]Unit, error) {
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	if has("blocks.json") || has("transactions.json") || has("logs.json") {
		return readETL(dir, "")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("source: file: %w", err)
	}
	var rpcFiles, txFiles, csvFiles []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
		case rpcBlockFileName.MatchString(name):
			rpcFiles = append(rpcFiles, filepath.Join(dir, name))
		case strings.HasPrefix(name, "getTransaction") && strings.HasSuffix(name, ".json"):
			txFiles = append(txFiles, filepath.Join(dir, name))
		case strings.EqualFold(filepath.Ext(name), ".csv"):
			csvFiles = append(csvFiles, filepath.Join(dir, name))
		}
	}
	switch {
	case len(rpcFiles) > 0:
		return readRPCFiles(dir, rpcFiles)
	case len(txFiles) > 0:
		var units []Unit
		for _, p := range txFiles {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("source: file: %w", err)
			}
			u, err := solanaTransactionUnits(data)
			if err != nil {
				return nil, err
			}
			units = append(units, u...)
		}
		return mergeSlots(units), nil
	case len(csvFiles) == 1:
		return readSolanaCSV(csvFiles[0])
	}
	return nil, fmt.Errorf("%w: directory %s holds no blocks.json/transactions.json/logs.json, "+
		"web3_response.eth_getBlockByNumber_0xN_true.json, getTransaction*.json or single .csv file", ErrUnsupported, dir)
}

// readETL reads PREFIXblocks.json, PREFIXtransactions.json and
// PREFIXlogs.json from dir, those that exist.
func readETL(dir, prefix string) ([]Unit, error) {
	open := func(name string) (*os.File, error) {
		f, err := os.Open(filepath.Join(dir, prefix+name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("source: file: %w", err)
		}
		return f, nil
	}
	var files [3]*os.File
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for i, name := range []string{"blocks.json", "transactions.json", "logs.json"} {
		f, err := open(name)
		if err != nil {
			return nil, err
		}
		files[i] = f
	}
	blocks, txs, logs := files[0], files[1], files[2]
	if logs == nil {
		return nil, &DecodeError{Input: "ethereum-etl", Err: fmt.Errorf("%s is missing: without logs, blocks would index as blocks without events", filepath.Join(dir, prefix+"logs.json"))}
	}
	var out []Block
	var err error
	switch {
	case blocks == nil:
		out, err = DecodeETLLogs(logs)
	case txs == nil:
		out, err = DecodeETL(blocks, nil, logs)
	default:
		out, err = DecodeETL(blocks, txs, logs)
	}
	if err != nil {
		return nil, err
	}
	units := make([]Unit, len(out))
	for i := range out {
		b := &out[i]
		units[i] = Unit{Number: b.Number, Hash: b.Hash, ParentHash: b.ParentHash, Time: b.Timestamp, Eth: b}
	}
	return units, nil
}

// readRPCFiles decodes eth_getBlockByNumber response files with the
// receipts found beside them as
// web3_response.eth_getTransactionReceipt_HASH.json.
func readRPCFiles(dir string, blockFiles []string) ([]Unit, error) {
	units := make([]Unit, 0, len(blockFiles))
	for _, p := range blockFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("source: file: %w", err)
		}
		// The hashes locate the receipt files; DecodeRPCBlock judges
		// everything, including transactions that are not objects.
		var peek struct {
			Result struct {
				Transactions []json.RawMessage `json:"transactions"`
			} `json:"result"`
		}
		_ = json.Unmarshal(data, &peek)
		var receipts [][]byte
		for _, raw := range peek.Result.Transactions {
			var tx struct {
				Hash string `json:"hash"`
			}
			if json.Unmarshal(raw, &tx) != nil || tx.Hash == "" || strings.ContainsAny(tx.Hash, `/\`) {
				continue
			}
			r, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf(rpcReceiptFile, strings.ToLower(tx.Hash))))
			if errors.Is(err, os.ErrNotExist) {
				continue // reported as a missing receipt
			}
			if err != nil {
				return nil, fmt.Errorf("source: file: %w", err)
			}
			receipts = append(receipts, r)
		}
		b, err := DecodeRPCBlock(data, receipts...)
		if err != nil {
			return nil, fmt.Errorf("source: file %s: %w", filepath.Base(p), err)
		}
		units = append(units, Unit{Number: b.Number, Hash: b.Hash, ParentHash: b.ParentHash, Time: b.Timestamp, Eth: &b})
	}
	sort.Slice(units, func(i, j int) bool { return units[i].Number < units[j].Number })
	for i := 1; i < len(units); i++ {
		u, prev := units[i], units[i-1]
		if u.Number == prev.Number {
			return nil, &DecodeError{Input: "eth_getBlockByNumber files", Block: u.Number, HasBlock: true, Err: errors.New("block listed twice")}
		}
		if u.Number == prev.Number+1 && u.ParentHash != prev.Hash {
			return nil, &DecodeError{Input: "eth_getBlockByNumber files", Block: u.Number, HasBlock: true, Field: "parentHash",
				Err: fmt.Errorf("%s is not the hash of block %d (%s)", u.ParentHash, prev.Number, prev.Hash)}
		}
	}
	return units, nil
}

// readSolanaCSV reads a solana-etl instructions CSV as one slot, numbered
// by a "slot-N" in the file or directory name (the export has no slot
// column).
func readSolanaCSV(path string) ([]Unit, error) {
	slot, ok := slotFromPath(path)
	if !ok {
		return nil, fmt.Errorf("source: file %s: a solana-etl instructions CSV has no slot column: name the file or its directory slot-N", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source: file: %w", err)
	}
	defer f.Close()
	ins, err := DecodeInstructionsCSV(f)
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) && !de.HasBlock {
			de.Block, de.HasBlock = slot, true
		}
		return nil, err
	}
	return []Unit{{Number: slot, Sol: &Slot{Slot: slot, Instructions: ins}}}, nil
}

// slotFromPath finds "slot-N" in the base name, else in the directory name.
func slotFromPath(path string) (uint64, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	for _, name := range []string{filepath.Base(abs), filepath.Base(filepath.Dir(abs))} {
		if m := slotName.FindStringSubmatch(name); m != nil && isDecimal(m[1]) {
			if n, err := strconv.ParseUint(m[1], 10, 64); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// solanaTransactionUnits groups the transactions of getTransaction
// responses into one unit per slot, in slot order.
func solanaTransactionUnits(data []byte) ([]Unit, error) {
	txs, err := DecodeSolanaTransactions(data)
	if err != nil {
		return nil, err
	}
	var units []Unit
	for _, t := range txs {
		u := Unit{Number: t.Slot, Sol: &Slot{Slot: t.Slot, Instructions: t.Instructions}}
		if t.BlockTime > 0 {
			u.Time = uint64(t.BlockTime)
		}
		units = append(units, u)
	}
	return mergeSlots(units), nil
}

// mergeSlots sorts Solana units by slot (stably) and joins those of one
// slot, keeping the transactions' order.
func mergeSlots(units []Unit) []Unit {
	sort.SliceStable(units, func(i, j int) bool { return units[i].Number < units[j].Number })
	var out []Unit
	for _, u := range units {
		if n := len(out); n > 0 && out[n-1].Number == u.Number {
			prev := out[n-1].Sol // made by the caller for this merge: ours to extend
			prev.Instructions = append(prev.Instructions, u.Sol.Instructions...)
			if out[n-1].Time == 0 {
				out[n-1].Time = u.Time
			}
			continue
		}
		out = append(out, u)
	}
	return out
}

// sniffJSON names the JSON-RPC response in data: "solana-transaction" (a
// getTransaction result, or a batch of them), "ethereum-block" (an
// eth_getBlockBy* result), or "".
func sniffJSON(data []byte) string {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var batch []json.RawMessage
		if json.Unmarshal(data, &batch) != nil || len(batch) == 0 {
			return ""
		}
		data = batch[0]
	}
	var env struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if json.Unmarshal(data, &env) != nil {
		return ""
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if _, ok := env.Result[k]; !ok {
				return false
			}
		}
		return true
	}
	switch {
	case has("slot", "transaction"):
		return "solana-transaction"
	case has("number", "hash", "parentHash", "transactions"):
		return "ethereum-block"
	}
	return ""
}
