package erc20

import (
	"strconv"

	"github.com/ipdm/ipdm/examples/internal/scan"
)

// Versions of the canonical Ethereum encodings (package pipeline/source).
const (
	// LogsVersion is the encoding Map reads (source kind ethereum-logs).
	LogsVersion = "ipdm.ethereum.logs.v1"
	// blockVersion is the full-block encoding (source kind ethereum-block),
	// which Map refuses with a hint.
	blockVersion = "ipdm.ethereum.block.v1"
)

// TransferTopic is keccak256("Transfer(address,address,uint256)"), the
// first topic of ERC-20 and ERC-721 Transfer events.
const TransferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

// Sizes in hex digits.
const (
	wordHex    = 64 // a 32-byte word or hash
	addressHex = 40 // a 20-byte address
	maxTopics  = 4
)

// Mapper runs the erc20_transfers module. The zero value is ready to use;
// reusing one Mapper across blocks reuses its buffers.
type Mapper struct {
	rows scan.Rows // the block's rows (scan.Rows is shared with the other examples)
}

// Map reads one block in the canonical ipdm.ethereum.logs.v1 encoding and
// calls emit with each transfer row, in log order. The row is valid only
// during the call. Map validates the whole block before the first emit: on
// error (matching ErrMalformed) it emits nothing.
func (m *Mapper) Map(block []byte, emit func(row []byte)) error {
	m.rows.Reset()
	if err := m.scan(block); err != nil {
		return err
	}
	m.rows.Emit(emit)
	return nil
}

// Rows returns the rows Map emits for block, each in its own slice.
func Rows(block []byte) ([][]byte, error) {
	var m Mapper
	return scan.Collect(block, m.Map)
}

func (m *Mapper) scan(b []byte) error {
	p := newParser(b, "logs")
	if !p.Lit(`{"version":"`) {
		return p.Fail("", "not a canonical "+LogsVersion+" block: it starts with {\"version\":\"")
	}
	vstart := p.I
	for p.I < len(b) && b[p.I] != '"' {
		p.I++
	}
	switch v := string(b[vstart:p.I]); {
	case p.I >= len(b):
		return p.Fail("version", "unterminated string")
	case v == blockVersion:
		p.I = vstart
		return p.Fail("version", blockVersion+" is the ethereum-block encoding; erc20-transfers reads "+LogsVersion+": declare the source ethereum-logs")
	case v != LogsVersion:
		p.I = vstart
		return p.Fail("version", strconv.Quote(clip(v))+" is not "+LogsVersion)
	}
	p.I++ // closing quote
	if err := p.Key(`,"number":`, "number"); err != nil {
		return err
	}
	number, err := p.uint("number")
	if err != nil {
		return err
	}
	if err := p.Key(`,"hash":`, "hash"); err != nil {
		return err
	}
	if _, err := p.hexN(32, "hash"); err != nil {
		return err
	}
	if err := p.Key(`,"parent_hash":`, "parent_hash"); err != nil {
		return err
	}
	if _, err := p.hexN(32, "parent_hash"); err != nil {
		return err
	}
	if err := p.Key(`,"timestamp":`, "timestamp"); err != nil {
		return err
	}
	if _, err := p.uint("timestamp"); err != nil {
		return err
	}
	if err := p.Key(`,"miner":`, "miner"); err != nil {
		return err
	}
	if _, err := p.hexN(20, "miner"); err != nil {
		return err
	}
	if err := p.Key(`,"gas_limit":`, "gas_limit"); err != nil {
		return err
	}
	if _, err := p.uint("gas_limit"); err != nil {
		return err
	}
	if err := p.Key(`,"gas_used":`, "gas_used"); err != nil {
		return err
	}
	if _, err := p.uint("gas_used"); err != nil {
		return err
	}
	if err := p.Key(`,"base_fee_per_gas":`, "base_fee_per_gas"); err != nil {
		return err
	}
	if !p.Lit("null") {
		if _, err := p.decimal256("base_fee_per_gas"); err != nil {
			return err
		}
	}
	if err := p.Key(`,"logs":[`, "logs"); err != nil {
		return err
	}
	if !p.Lit("]") {
		var prev uint64
		for n := 0; ; n++ {
			p.Elem = n
			index, err := m.log(&p, number)
			if err != nil {
				return err
			}
			if n > 0 && index <= prev {
				return p.Fail("index", "log index "+strconv.FormatUint(index, 10)+" does not follow "+strconv.FormatUint(prev, 10)+": logs are in ascending index order")
			}
			prev = index
			if more, err := p.NextElem("a log"); err != nil {
				return err
			} else if !more {
				break
			}
		}
	}
	if !p.Lit("}") || p.I != len(b) {
		return p.Fail("", "expected the end of the block after the logs")
	}
	return nil
}

// The fixed parts of a log, matched as words.
var (
	litIndex   = scan.NewLiteral(`{"index":`)
	litTxHash  = scan.NewLiteral(`,"transaction_hash":"0x`)
	litTxIndex = scan.NewLiteral(`","transaction_index":`)
	litAddress = scan.NewLiteral(`,"address":"0x`)
	litTopics  = scan.NewLiteral(`","topics":[`)
	litData    = scan.NewLiteral(`,"data":"0x`)
)

// Lengths of the fixed stretches of a log: transaction hash and the key
// after it, address and the key after it.
const (
	txStretch      = len(`,"transaction_hash":"0x`) + wordHex + len(`","transaction_index":`)
	addressStretch = len(`,"address":"0x`) + addressHex + len(`","topics":[`)
)

// txStretchError finds what is wrong in a transaction hash stretch that
// failed the straight-line check.
func (p *parser) txStretchError() error {
	b := p.B
	if !litTxHash.Match(b[p.I:]) {
		return p.Expect("transaction_hash", `,"transaction_hash":"0x`)
	}
	p.I += litTxHash.Len()
	if len(b)-p.I < wordHex || !hex64(b[p.I:]) {
		return p.Fail("transaction_hash", "not 32 bytes of lowercase hex")
	}
	p.I += wordHex
	return p.Expect("transaction_index", `","transaction_index":`)
}

// addressStretchError finds what is wrong in an address stretch that
// failed the straight-line check.
func (p *parser) addressStretchError() error {
	b := p.B
	if !litAddress.Match(b[p.I:]) {
		return p.Expect("address", `,"address":"0x`)
	}
	p.I += litAddress.Len()
	if len(b)-p.I < addressHex || !hex40(b[p.I:]) {
		return p.Fail("address", "not 20 bytes of lowercase hex")
	}
	p.I += addressHex
	return p.Expect("topics", `","topics":[`)
}

// log reads one log and appends its row if it is a transfer. It returns the
// log's index.
func (m *Mapper) log(p *parser, block uint64) (uint64, error) {
	b := p.B
	if !litIndex.Match(b[p.I:]) {
		return 0, p.Expect("index", `{"index":`)
	}
	p.I += litIndex.Len()
	index, err := p.uint("index")
	if err != nil {
		return 0, err
	}
	// Two fixed-length stretches, checked in straight-line code first; the
	// field-by-field path only runs to say what is wrong.
	var txAt, addrAt int
	if len(b)-p.I >= txStretch && litTxHash.Diff(b[p.I:])|hexBad64(b[p.I+litTxHash.Len():])|litTxIndex.Diff(b[p.I+litTxHash.Len()+wordHex:]) == 0 {
		txAt = p.I + litTxHash.Len()
		p.I += txStretch
	} else {
		return 0, p.txStretchError()
	}
	if _, err := p.uint("transaction_index"); err != nil {
		return 0, err
	}
	if len(b)-p.I >= addressStretch && litAddress.Diff(b[p.I:])|hexBad40(b[p.I+litAddress.Len():])|litTopics.Diff(b[p.I+litAddress.Len()+addressHex:]) == 0 {
		addrAt = p.I + litAddress.Len()
		p.I += addressStretch
	} else {
		return 0, p.addressStretchError()
	}
	var topicAt [maxTopics]int // offsets of the topics' first hex digit
	nt := 0
	if p.I < len(b) && b[p.I] == ']' {
		p.I++
	} else {
		// Each topic is `"0x`, 64 hex digits, `"` and then ',' or ']'.
		const topicLen = 3 + wordHex + 2
		for {
			if nt == maxTopics {
				return 0, p.Fail("topics", "more than 4 topics")
			}
			t := b[p.I:]
			if len(t) < topicLen || t[0] != '"' || t[1] != '0' || t[2] != 'x' || !hex64(t[3:]) || t[3+wordHex] != '"' {
				return 0, p.Fail("topics", "not 32 bytes of 0x-prefixed lowercase hex")
			}
			topicAt[nt] = p.I + 3
			nt++
			p.I += topicLen
			if sep := t[topicLen-1]; sep == ']' {
				break
			} else if sep != ',' {
				p.I--
				return 0, p.Fail("topics", "expected ',' or ']' after a topic")
			}
		}
	}
	if !litData.Match(b[p.I:]) {
		return 0, p.Expect("data", `,"data":"0x`)
	}
	p.I += litData.Len()
	data, err := p.hexDigits("data")
	if err != nil {
		return 0, err
	}
	if !p.Lit("}") {
		return 0, p.Fail("", "expected the end of the log after data")
	}

	// A transfer: Transfer's topic, and topics plus data words make four
	// words (from, to, value after the topic).
	if nt == 0 || nt+(len(data)+wordHex-1)/wordHex != maxTopics || !isTransferTopic(b[topicAt[0]:]) {
		return index, nil
	}
	var words [maxTopics][]byte
	for k := 0; k < nt; k++ {
		words[k] = b[topicAt[k] : topicAt[k]+wordHex]
	}
	for k := nt; k < maxTopics; k++ {
		n := min(wordHex, len(data))
		words[k], data = data[:n], data[n:]
	}
	r := m.rows.Buf
	r = append(r, `{"token_address":"0x`...)
	r = append(r, b[addrAt:addrAt+addressHex]...)
	r = append(r, `","from_address":"0x`...)
	r = append(r, low20(words[1])...)
	r = append(r, `","to_address":"0x`...)
	r = append(r, low20(words[2])...)
	r = append(r, `","value":"`...)
	r = appendHexDecimal(r, words[3])
	r = append(r, `","transaction_hash":"0x`...)
	r = append(r, b[txAt:txAt+wordHex]...)
	r = append(r, `","log_index":`...)
	r = appendUint64(r, index)
	r = append(r, `,"block_number":`...)
	r = appendUint64(r, block)
	r = append(r, '}')
	m.rows.Buf = r
	m.rows.End()
	return index, nil
}

// transferWords is TransferTopic's hex digits as words.
var transferWords = func() (w [8]uint64) {
	for i := range w {
		w[i] = scan.LE64s(TransferTopic[2+8*i:])
	}
	return w
}()

// isTransferTopic reports whether b starts with TransferTopic's 64 hex
// digits.
func isTransferTopic(b []byte) bool {
	_ = b[63]
	w := &transferWords
	return (scan.LE64(b[0:8])^w[0])|(scan.LE64(b[8:16])^w[1])|(scan.LE64(b[16:24])^w[2])|(scan.LE64(b[24:32])^w[3])|
		(scan.LE64(b[32:40])^w[4])|(scan.LE64(b[40:48])^w[5])|(scan.LE64(b[48:56])^w[6])|(scan.LE64(b[56:64])^w[7]) == 0
}

// low20 returns the low 20 bytes of a word, as the reference does (the
// whole word if it is shorter, which a qualifying log never has for from
// and to).
func low20(w []byte) []byte { return w[max(0, len(w)-addressHex):] }

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
