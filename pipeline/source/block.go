package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Versions of the canonical encodings, written in their "version" field.
// A change to an encoding gets a new version, never a silent edit.
const (
	// BlockVersion tags Block.Encode: header, transactions with receipt
	// fields, and logs (source kind ethereum-block).
	BlockVersion = "ipdm.ethereum.block.v1"
	// LogsVersion tags Block.EncodeLogs: header and logs only (source kind
	// ethereum-logs).
	LogsVersion = "ipdm.ethereum.logs.v1"
)

// codecJSON is the multicodec of plain JSON: content IDs name the canonical
// encodings as JSON blocks, as job IDs do.
const codecJSON = 0x0200

// maxTopics is the most topics an EVM log can have (LOG0…LOG4).
const maxTopics = 4

// Block is an Ethereum block as pipelines see it: the header fields modules
// need, every transaction with its receipt fields, and every log.
// Hex strings are 0x-prefixed lowercase; optional values are nil or empty.
type Block struct {
	Number     uint64
	Hash       string // 32 bytes
	ParentHash string // 32 bytes
	Timestamp  uint64 // seconds since the Unix epoch
	Miner      string // 20 bytes
	GasLimit   uint64
	GasUsed    uint64
	// BaseFeePerGas is nil before London (EIP-1559).
	BaseFeePerGas *big.Int
	// Transactions in block order: Transactions[i].Index == i. Nil when the
	// source did not include transactions (ethereum-etl without
	// transactions.json); such a block can only be encoded with EncodeLogs.
	Transactions []Transaction
	// Logs in block order (ascending Index), from the transactions' receipts.
	Logs []Log
}

// Transaction is one transaction with the fields of its receipt.
type Transaction struct {
	Hash  string // 32 bytes
	Index uint64 // position in the block
	From  string // 20 bytes
	// To is empty for a contract creation.
	To    string
	Value *big.Int // wei
	Nonce uint64
	Gas   uint64
	// GasPrice is the price paid per gas as the node reports it; nil when
	// absent.
	GasPrice *big.Int
	// MaxFeePerGas and MaxPriorityFeePerGas are nil for transactions
	// without EIP-1559 fee fields.
	MaxFeePerGas         *big.Int
	MaxPriorityFeePerGas *big.Int
	Type                 uint64 // EIP-2718 type; 0 for legacy
	Input                string // 0x-prefixed hex call data
	Receipt              Receipt
}

// Receipt holds the receipt fields of a transaction (its logs are in
// Block.Logs).
type Receipt struct {
	// Status is 1 for success, 0 for failure, and StatusUnknown before
	// Byzantium, whose receipts carry a state root instead.
	Status            int
	GasUsed           uint64
	CumulativeGasUsed uint64
	// EffectiveGasPrice is nil when the source does not report it.
	EffectiveGasPrice *big.Int
	// ContractAddress is the created contract, empty otherwise.
	ContractAddress string
}

// StatusUnknown is Receipt.Status for receipts without a status field.
const StatusUnknown = -1

// Log is one event log.
type Log struct {
	Index   uint64 // position in the block
	TxHash  string // 32 bytes
	TxIndex uint64
	Address string   // 20 bytes, the emitting contract
	Topics  []string // 0 to 4 values of 32 bytes; Topics[0] is the event signature
	Data    string   // 0x-prefixed hex, "0x" when empty
}

// Wire form of the canonical encodings. encoding/json writes struct fields
// in declaration order, which fixes the byte layout.

type wireBlock struct {
	Version       string     `json:"version"`
	Number        uint64     `json:"number"`
	Hash          string     `json:"hash"`
	ParentHash    string     `json:"parent_hash"`
	Timestamp     uint64     `json:"timestamp"`
	Miner         string     `json:"miner"`
	GasLimit      uint64     `json:"gas_limit"`
	GasUsed       uint64     `json:"gas_used"`
	BaseFeePerGas *string    `json:"base_fee_per_gas"`
	Transactions  *[]wireTx  `json:"transactions,omitempty"`
	Logs          *[]wireLog `json:"logs"`
}

type wireTx struct {
	Hash                 string  `json:"hash"`
	Index                uint64  `json:"index"`
	From                 string  `json:"from"`
	To                   *string `json:"to"`
	Value                string  `json:"value"`
	Nonce                uint64  `json:"nonce"`
	Gas                  uint64  `json:"gas"`
	GasPrice             *string `json:"gas_price"`
	MaxFeePerGas         *string `json:"max_fee_per_gas"`
	MaxPriorityFeePerGas *string `json:"max_priority_fee_per_gas"`
	Type                 uint64  `json:"type"`
	Input                string  `json:"input"`
	Status               *int    `json:"status"`
	GasUsed              uint64  `json:"gas_used"`
	CumulativeGasUsed    uint64  `json:"cumulative_gas_used"`
	EffectiveGasPrice    *string `json:"effective_gas_price"`
	ContractAddress      *string `json:"contract_address"`
}

type wireLog struct {
	Index   uint64   `json:"index"`
	TxHash  string   `json:"transaction_hash"`
	TxIndex uint64   `json:"transaction_index"`
	Address string   `json:"address"`
	Topics  []string `json:"topics"`
	Data    string   `json:"data"`
}

// Encode validates b and returns its canonical encoding (version
// BlockVersion): compact JSON, fields in a fixed order, hex in lowercase,
// big integers as decimal strings, absent optional values as null.
// Equal blocks have equal encodings whatever source they were decoded from.
func (b Block) Encode() ([]byte, error) {
	if b.Transactions == nil {
		return nil, at("encode", 0, b.Number, true, ferr("transactions", errors.New("not loaded: only EncodeLogs applies")))
	}
	return b.encode(BlockVersion)
}

// EncodeLogs validates b and returns the canonical encoding of its header
// and logs without transactions (version LogsVersion).
func (b Block) EncodeLogs() ([]byte, error) { return b.encode(LogsVersion) }

func (b Block) encode(version string) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, at("encode", 0, b.Number, true, err)
	}
	w := wireBlock{
		Version:       version,
		Number:        b.Number,
		Hash:          b.Hash,
		ParentHash:    b.ParentHash,
		Timestamp:     b.Timestamp,
		Miner:         b.Miner,
		GasLimit:      b.GasLimit,
		GasUsed:       b.GasUsed,
		BaseFeePerGas: optDecimal(b.BaseFeePerGas),
	}
	logs := make([]wireLog, len(b.Logs))
	for i, l := range b.Logs {
		topics := l.Topics
		if topics == nil {
			topics = []string{}
		}
		logs[i] = wireLog{l.Index, l.TxHash, l.TxIndex, l.Address, topics, l.Data}
	}
	w.Logs = &logs
	if version == BlockVersion {
		txs := make([]wireTx, len(b.Transactions))
		for i, t := range b.Transactions {
			wt := wireTx{
				Hash:                 t.Hash,
				Index:                t.Index,
				From:                 t.From,
				To:                   optString(t.To),
				Value:                t.Value.String(),
				Nonce:                t.Nonce,
				Gas:                  t.Gas,
				GasPrice:             optDecimal(t.GasPrice),
				MaxFeePerGas:         optDecimal(t.MaxFeePerGas),
				MaxPriorityFeePerGas: optDecimal(t.MaxPriorityFeePerGas),
				Type:                 t.Type,
				Input:                t.Input,
				GasUsed:              t.Receipt.GasUsed,
				CumulativeGasUsed:    t.Receipt.CumulativeGasUsed,
				EffectiveGasPrice:    optDecimal(t.Receipt.EffectiveGasPrice),
				ContractAddress:      optString(t.Receipt.ContractAddress),
			}
			if t.Receipt.Status != StatusUnknown {
				s := t.Receipt.Status
				wt.Status = &s
			}
			txs[i] = wt
		}
		w.Transactions = &txs
	}
	return marshalCanonical(w)
}

// ContentID returns the CIDv1 (JSON codec 0x0200, SHA-256) of b.Encode():
// the block hash used for proof-of-processing of an ethereum-block input.
func (b Block) ContentID() (cid.Cid, error) {
	enc, err := b.Encode()
	if err != nil {
		return cid.Undef, err
	}
	return ContentID(enc), nil
}

// ContentID returns the CIDv1 (JSON codec 0x0200, SHA-256) naming an
// encoded input, such as the output of Block.EncodeLogs or Slot.Encode.
func ContentID(encoded []byte) cid.Cid {
	sum := sha256.Sum256(encoded)
	h, _ := mh.Encode(sum[:], mh.SHA2_256) // cannot fail for SHA2_256 and 32 bytes
	return cid.NewCidV1(codecJSON, h)
}

// DecodeBlock reads a canonical encoding written by Block.Encode or
// Block.EncodeLogs (then Transactions is nil). Unknown fields, a wrong
// version and invalid values are errors; the input need not be byte-for-byte
// canonical.
func DecodeBlock(data []byte) (Block, error) {
	const input = "ethereum block"
	var w wireBlock
	if err := strictUnmarshal(data, &w); err != nil {
		return Block{}, at(input, 0, 0, false, err)
	}
	b := Block{
		Number:     w.Number,
		Hash:       w.Hash,
		ParentHash: w.ParentHash,
		Timestamp:  w.Timestamp,
		Miner:      w.Miner,
		GasLimit:   w.GasLimit,
		GasUsed:    w.GasUsed,
	}
	fail := func(err error) (Block, error) { return Block{}, at(input, 0, b.Number, true, err) }
	switch w.Version {
	case BlockVersion:
		if w.Transactions == nil {
			return fail(ferr("transactions", errors.New("missing")))
		}
	case LogsVersion:
		if w.Transactions != nil {
			return fail(ferr("transactions", fmt.Errorf("not allowed in %s", LogsVersion)))
		}
	default:
		return fail(ferr("version", fmt.Errorf("%q is not %s or %s", clip(w.Version), BlockVersion, LogsVersion)))
	}
	var err error
	if b.BaseFeePerGas, err = parseOptDecimal(w.BaseFeePerGas); err != nil {
		return fail(ferr("base_fee_per_gas", err))
	}
	if w.Transactions != nil {
		b.Transactions = make([]Transaction, len(*w.Transactions))
		for i, wt := range *w.Transactions {
			if err := wt.into(&b.Transactions[i]); err != nil {
				return fail(prefix(idx("transactions", i), err))
			}
		}
	}
	if w.Logs == nil {
		return fail(ferr("logs", errors.New("missing")))
	}
	b.Logs = make([]Log, len(*w.Logs))
	for i, wl := range *w.Logs {
		b.Logs[i] = Log{wl.Index, wl.TxHash, wl.TxIndex, wl.Address, wl.Topics, wl.Data}
	}
	if err := b.validate(); err != nil {
		return fail(err)
	}
	return b, nil
}

func (wt wireTx) into(t *Transaction) error {
	var err error
	*t = Transaction{
		Hash: wt.Hash, Index: wt.Index, From: wt.From, Nonce: wt.Nonce, Gas: wt.Gas, Type: wt.Type, Input: wt.Input,
		Receipt: Receipt{Status: StatusUnknown, GasUsed: wt.GasUsed, CumulativeGasUsed: wt.CumulativeGasUsed},
	}
	if wt.To != nil {
		if *wt.To == "" {
			return ferr("to", errors.New("empty string: a contract creation has null"))
		}
		t.To = *wt.To
	}
	if wt.ContractAddress != nil {
		if *wt.ContractAddress == "" {
			return ferr("contract_address", errors.New("empty string: absent is null"))
		}
		t.Receipt.ContractAddress = *wt.ContractAddress
	}
	if wt.Status != nil {
		if *wt.Status != 0 && *wt.Status != 1 {
			return ferr("status", fmt.Errorf("%d is not 0, 1 or null", *wt.Status))
		}
		t.Receipt.Status = *wt.Status
	}
	if t.Value, err = parseDecimalString(wt.Value); err != nil {
		return ferr("value", err)
	}
	for _, f := range []struct {
		name string
		in   *string
		out  **big.Int
	}{
		{"gas_price", wt.GasPrice, &t.GasPrice},
		{"max_fee_per_gas", wt.MaxFeePerGas, &t.MaxFeePerGas},
		{"max_priority_fee_per_gas", wt.MaxPriorityFeePerGas, &t.MaxPriorityFeePerGas},
		{"effective_gas_price", wt.EffectiveGasPrice, &t.Receipt.EffectiveGasPrice},
	} {
		if *f.out, err = parseOptDecimal(f.in); err != nil {
			return ferr(f.name, err)
		}
	}
	return nil
}

// validate checks every invariant Encode relies on.
func (b *Block) validate() error {
	if err := checkHex("hash", b.Hash, hashLen); err != nil {
		return err
	}
	if err := checkHex("parent_hash", b.ParentHash, hashLen); err != nil {
		return err
	}
	if err := checkHex("miner", b.Miner, addressLen); err != nil {
		return err
	}
	if err := checkBig("base_fee_per_gas", b.BaseFeePerGas, true); err != nil {
		return err
	}
	for i := range b.Transactions {
		if err := b.Transactions[i].validate(uint64(i)); err != nil {
			return prefix(idx("transactions", i), err)
		}
	}
	for i := range b.Logs {
		l := &b.Logs[i]
		if err := l.validate(); err != nil {
			return prefix(idx("logs", i), err)
		}
		if i > 0 && l.Index <= b.Logs[i-1].Index {
			return ferr(idx("logs", i), fmt.Errorf("index %d does not follow %d: logs must be in ascending, unique index order", l.Index, b.Logs[i-1].Index))
		}
		if b.Transactions != nil {
			if l.TxIndex >= uint64(len(b.Transactions)) || b.Transactions[l.TxIndex].Hash != l.TxHash {
				return ferr(idx("logs", i), fmt.Errorf("transaction %s at index %d is not in the block", l.TxHash, l.TxIndex))
			}
		}
	}
	return nil
}

func (t *Transaction) validate(i uint64) error {
	if t.Index != i {
		return ferr("index", fmt.Errorf("%d at position %d: transactions must be complete and in block order", t.Index, i))
	}
	if err := checkHex("hash", t.Hash, hashLen); err != nil {
		return err
	}
	if err := checkHex("from", t.From, addressLen); err != nil {
		return err
	}
	if t.To != "" {
		if err := checkHex("to", t.To, addressLen); err != nil {
			return err
		}
	}
	if err := checkBig("value", t.Value, false); err != nil {
		return err
	}
	if err := checkHex("input", t.Input, -1); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *big.Int
	}{{"gas_price", t.GasPrice}, {"max_fee_per_gas", t.MaxFeePerGas}, {"max_priority_fee_per_gas", t.MaxPriorityFeePerGas}, {"effective_gas_price", t.Receipt.EffectiveGasPrice}} {
		if err := checkBig(f.name, f.v, true); err != nil {
			return err
		}
	}
	switch t.Receipt.Status {
	case 0, 1, StatusUnknown:
	default:
		return ferr("status", fmt.Errorf("%d is not 0, 1 or unknown", t.Receipt.Status))
	}
	if t.Receipt.ContractAddress != "" {
		if err := checkHex("contract_address", t.Receipt.ContractAddress, addressLen); err != nil {
			return err
		}
	}
	return nil
}

func (l *Log) validate() error {
	if err := checkHex("transaction_hash", l.TxHash, hashLen); err != nil {
		return err
	}
	if err := checkHex("address", l.Address, addressLen); err != nil {
		return err
	}
	if len(l.Topics) > maxTopics {
		return ferr("topics", fmt.Errorf("%d topics; a log has at most %d", len(l.Topics), maxTopics))
	}
	for i, t := range l.Topics {
		if err := checkHex(idx("topics", i), t, hashLen); err != nil {
			return err
		}
	}
	return checkHex("data", l.Data, -1)
}

// checkHex requires s to be canonical (lowercase) hex of n bytes (any even
// length when n < 0).
func checkHex(field, s string, n int) error {
	norm, err := hexBytes(s, n)
	if err != nil {
		return ferr(field, err)
	}
	if norm != s {
		return ferr(field, fmt.Errorf("%q is not lowercase", clip(s)))
	}
	return nil
}

func checkBig(field string, v *big.Int, optional bool) error {
	switch {
	case v == nil && optional:
		return nil
	case v == nil:
		return ferr(field, errors.New("missing"))
	case v.Sign() < 0:
		return ferr(field, errors.New("negative"))
	case v.BitLen() > 256:
		return ferr(field, errors.New("exceeds 256 bits"))
	}
	return nil
}

func optDecimal(v *big.Int) *string {
	if v == nil {
		return nil
	}
	s := v.String()
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func parseDecimalString(s string) (*big.Int, error) { return decimalBig(json.Number(s)) }

func parseOptDecimal(s *string) (*big.Int, error) {
	if s == nil {
		return nil, nil
	}
	return parseDecimalString(*s)
}

// marshalCanonical encodes v compactly without HTML escaping.
func marshalCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// strictUnmarshal decodes one JSON value into v, rejecting unknown fields
// and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
