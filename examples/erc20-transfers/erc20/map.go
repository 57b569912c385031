package erc20

import "strconv"

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
	rows []byte // the block's rows, concatenated
	ends []int  // end offset of each row in rows
}

// Map reads one block in the canonical ipdm.ethereum.logs.v1 encoding and
// calls emit with each transfer row, in log order. The row is valid only
// during the call. Map validates the whole block before the first emit: on
// error (matching ErrMalformed) it emits nothing.
func (m *Mapper) Map(block []byte, emit func(row []byte)) error {
	m.rows, m.ends = m.rows[:0], m.ends[:0]
	if err := m.scan(block); err != nil {
		return err
	}
	start := 0
	for _, end := range m.ends {
		emit(m.rows[start:end:end])
		start = end
	}
	return nil
}

// Rows returns the rows Map emits for block, each in its own slice.
func Rows(block []byte) ([][]byte, error) {
	var m Mapper
	var out [][]byte
	err := m.Map(block, func(row []byte) { out = append(out, append([]byte(nil), row...)) })
	return out, err
}

func (m *Mapper) scan(b []byte) error {
	p := parser{b: b, list: "logs", elem: -1}
	if !p.lit(`{"version":"`) {
		return p.fail("", "not a canonical "+LogsVersion+" block: it starts with {\"version\":\"")
	}
	vstart := p.i
	for p.i < len(b) && b[p.i] != '"' {
		p.i++
	}
	switch v := string(b[vstart:p.i]); {
	case p.i >= len(b):
		return p.fail("version", "unterminated string")
	case v == blockVersion:
		p.i = vstart
		return p.fail("version", blockVersion+" is the ethereum-block encoding; erc20-transfers reads "+LogsVersion+": declare the source ethereum-logs")
	case v != LogsVersion:
		p.i = vstart
		return p.fail("version", strconv.Quote(clip(v))+" is not "+LogsVersion)
	}
	p.i++ // closing quote
	if err := p.key(`,"number":`, "number"); err != nil {
		return err
	}
	number, err := p.uint("number")
	if err != nil {
		return err
	}
	if err := p.key(`,"hash":`, "hash"); err != nil {
		return err
	}
	if _, err := p.hexN(32, "hash"); err != nil {
		return err
	}
	if err := p.key(`,"parent_hash":`, "parent_hash"); err != nil {
		return err
	}
	if _, err := p.hexN(32, "parent_hash"); err != nil {
		return err
	}
	if err := p.key(`,"timestamp":`, "timestamp"); err != nil {
		return err
	}
	if _, err := p.uint("timestamp"); err != nil {
		return err
	}
	if err := p.key(`,"miner":`, "miner"); err != nil {
		return err
	}
	if _, err := p.hexN(20, "miner"); err != nil {
		return err
	}
	if err := p.key(`,"gas_limit":`, "gas_limit"); err != nil {
		return err
	}
	if _, err := p.uint("gas_limit"); err != nil {
		return err
	}
	if err := p.key(`,"gas_used":`, "gas_used"); err != nil {
		return err
	}
	if _, err := p.uint("gas_used"); err != nil {
		return err
	}
	if err := p.key(`,"base_fee_per_gas":`, "base_fee_per_gas"); err != nil {
		return err
	}
	if !p.lit("null") {
		if _, err := p.decimal256("base_fee_per_gas"); err != nil {
			return err
		}
	}
	if err := p.key(`,"logs":[`, "logs"); err != nil {
		return err
	}
	if !p.lit("]") {
		var prev uint64
		for n := 0; ; n++ {
			p.elem = n
			index, err := m.log(&p, number)
			if err != nil {
				return err
			}
			if n > 0 && index <= prev {
				return p.fail("index", "log index "+strconv.FormatUint(index, 10)+" does not follow "+strconv.FormatUint(prev, 10)+": logs are in ascending index order")
			}
			prev = index
			if p.lit(",") {
				continue
			}
			if p.lit("]") {
				break
			}
			p.elem = -1
			return p.fail("logs", "expected ',' or ']' after a log")
		}
		p.elem = -1
	}
	if !p.lit("}") || p.i != len(b) {
		return p.fail("", "expected the end of the block after the logs")
	}
	return nil
}

// The fixed parts of a log, matched as words.
var (
	litIndex   = newLiteral(`{"index":`)
	litTxHash  = newLiteral(`,"transaction_hash":"0x`)
	litTxIndex = newLiteral(`","transaction_index":`)
	litAddress = newLiteral(`,"address":"0x`)
	litTopics  = newLiteral(`","topics":[`)
	litData    = newLiteral(`,"data":"0x`)
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
	b := p.b
	if !litTxHash.match(b[p.i:]) {
		return p.expect("transaction_hash", `,"transaction_hash":"0x`)
	}
	p.i += litTxHash.n
	if len(b)-p.i < wordHex || !hex64(b[p.i:]) {
		return p.fail("transaction_hash", "not 32 bytes of lowercase hex")
	}
	p.i += wordHex
	return p.expect("transaction_index", `","transaction_index":`)
}

// addressStretchError finds what is wrong in an address stretch that
// failed the straight-line check.
func (p *parser) addressStretchError() error {
	b := p.b
	if !litAddress.match(b[p.i:]) {
		return p.expect("address", `,"address":"0x`)
	}
	p.i += litAddress.n
	if len(b)-p.i < addressHex || !hex40(b[p.i:]) {
		return p.fail("address", "not 20 bytes of lowercase hex")
	}
	p.i += addressHex
	return p.expect("topics", `","topics":[`)
}

// expect is the error for a fixed part that is not there.
func (p *parser) expect(field, lit string) error {
	return p.fail(field, "expected "+strconv.Quote(lit)+" (the canonical encoding's fields, in order)")
}

// log reads one log and appends its row if it is a transfer. It returns the
// log's index.
func (m *Mapper) log(p *parser, block uint64) (uint64, error) {
	b := p.b
	if !litIndex.match(b[p.i:]) {
		return 0, p.expect("index", `{"index":`)
	}
	p.i += litIndex.n
	index, err := p.uint("index")
	if err != nil {
		return 0, err
	}
	// Two fixed-length stretches, checked in straight-line code first; the
	// field-by-field path only runs to say what is wrong.
	var txAt, addrAt int
	if len(b)-p.i >= txStretch && litTxHash.diff(b[p.i:])|hexBad64(b[p.i+litTxHash.n:])|litTxIndex.diff(b[p.i+litTxHash.n+wordHex:]) == 0 {
		txAt = p.i + litTxHash.n
		p.i += txStretch
	} else {
		return 0, p.txStretchError()
	}
	if _, err := p.uint("transaction_index"); err != nil {
		return 0, err
	}
	if len(b)-p.i >= addressStretch && litAddress.diff(b[p.i:])|hexBad40(b[p.i+litAddress.n:])|litTopics.diff(b[p.i+litAddress.n+addressHex:]) == 0 {
		addrAt = p.i + litAddress.n
		p.i += addressStretch
	} else {
		return 0, p.addressStretchError()
	}
	var topicAt [maxTopics]int // offsets of the topics' first hex digit
	nt := 0
	if p.i < len(b) && b[p.i] == ']' {
		p.i++
	} else {
		// Each topic is `"0x`, 64 hex digits, `"` and then ',' or ']'.
		const topicLen = 3 + wordHex + 2
		for {
			if nt == maxTopics {
				return 0, p.fail("topics", "more than 4 topics")
			}
			t := b[p.i:]
			if len(t) < topicLen || t[0] != '"' || t[1] != '0' || t[2] != 'x' || !hex64(t[3:]) || t[3+wordHex] != '"' {
				return 0, p.fail("topics", "not 32 bytes of 0x-prefixed lowercase hex")
			}
			topicAt[nt] = p.i + 3
			nt++
			p.i += topicLen
			if sep := t[topicLen-1]; sep == ']' {
				break
			} else if sep != ',' {
				p.i--
				return 0, p.fail("topics", "expected ',' or ']' after a topic")
			}
		}
	}
	if !litData.match(b[p.i:]) {
		return 0, p.expect("data", `,"data":"0x`)
	}
	p.i += litData.n
	data, err := p.hexDigits("data")
	if err != nil {
		return 0, err
	}
	if !p.lit("}") {
		return 0, p.fail("", "expected the end of the log after data")
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
	r := m.rows
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
	m.rows = r
	m.ends = append(m.ends, len(r))
	return index, nil
}

// transferWords is TransferTopic's hex digits as words.
var transferWords = func() (w [8]uint64) {
	for i := range w {
		w[i] = le64s(TransferTopic[2+8*i:])
	}
	return w
}()

// isTransferTopic reports whether b starts with TransferTopic's 64 hex
// digits.
func isTransferTopic(b []byte) bool {
	_ = b[63]
	w := &transferWords
	return (le64(b[0:8])^w[0])|(le64(b[8:16])^w[1])|(le64(b[16:24])^w[2])|(le64(b[24:32])^w[3])|
		(le64(b[32:40])^w[4])|(le64(b[40:48])^w[5])|(le64(b[48:56])^w[6])|(le64(b[56:64])^w[7]) == 0
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
