package spl

import (
	"unicode/utf8"

	"github.com/ipdm/ipdm/examples/internal/scan"
)

// jval is a params value as read from the input: a string's raw contents
// (escaped if esc) or a number's text. The zero jval is the empty string.
type jval struct {
	raw []byte
	esc bool
}

// The params fields the mapping reads (the reference's splParams).
const (
	fSource = iota
	fDestination
	fAccount
	fAuthority
	fMultisigAuthority
	fMint
	fMintAuthority
	fMultisigMintAuthority
	fAmount   // number
	fLamports // number
	fTokenAmount
	nFields
)

var paramNames = []string{
	fSource:                "source",
	fDestination:           "destination",
	fAccount:               "account",
	fAuthority:             "authority",
	fMultisigAuthority:     "multisigAuthority",
	fMint:                  "mint",
	fMintAuthority:         "mintAuthority",
	fMultisigMintAuthority: "multisigMintAuthority",
	fAmount:                "amount",
	fLamports:              "lamports",
	fTokenAmount:           "tokenAmount",
}

// paramPaths and tokenAmountPaths name the fields in errors.
var (
	paramPaths       = paths("params.", paramNames)
	tokenAmountPaths = paths("params.tokenAmount.", tokenAmountNames)
)

func paths(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// The fields of tokenAmount the mapping reads.
const (
	taAmount = iota
	taDecimals
)

var tokenAmountNames = []string{taAmount: "amount", taDecimals: "decimals"}

// params is what a transfer instruction's params hold for the mapping, as
// encoding/json would have decoded them into the reference's splParams.
type params struct {
	f [nFields]jval
	// hasTokenAmount: tokenAmount was an object (the reference's pointer is
	// non-nil); ta holds its amount and decimals.
	hasTokenAmount bool
	ta             [2]jval
}

// params reads a transfer instruction's params value (at depth 0).
func (p *parser) params(ps *params) error {
	const field = "params"
	switch {
	case p.Lit("null"): // decodes to nothing: every field stays empty
		return nil
	case !p.Peek('{'):
		return p.typeError(field, "an object")
	}
	p.I++
	if p.Lit("}") {
		return nil
	}
	for {
		f, err := p.member(field, paramNames)
		if err != nil {
			return err
		}
		switch f {
		case -1:
			err = p.skip(1, field)
		case fAmount, fLamports:
			err = p.numberField(&ps.f[f], paramPaths[f])
		case fTokenAmount:
			err = p.tokenAmount(ps)
		default:
			err = p.stringField(&ps.f[f], paramPaths[f])
		}
		if err != nil {
			return err
		}
		if more, err := p.More("}", field, "a member"); !more {
			return err
		}
	}
}

// tokenAmount reads the tokenAmount member's value (at depth 1). Like
// encoding/json decoding into a pointer: null clears it, an object fills
// it, allocating it if nil and else updating it in place.
func (p *parser) tokenAmount(ps *params) error {
	const field = "params.tokenAmount"
	switch {
	case p.Lit("null"):
		ps.hasTokenAmount, ps.ta = false, [2]jval{}
		return nil
	case !p.Peek('{'):
		return p.typeError(field, "an object")
	}
	if !ps.hasTokenAmount {
		ps.hasTokenAmount, ps.ta = true, [2]jval{}
	}
	p.I++
	if p.Lit("}") {
		return nil
	}
	for {
		f, err := p.member(field, tokenAmountNames)
		if err != nil {
			return err
		}
		if f < 0 {
			err = p.skip(2, field)
		} else {
			err = p.numberField(&ps.ta[f], tokenAmountPaths[f])
		}
		if err != nil {
			return err
		}
		if more, err := p.More("}", field, "a member"); !more {
			return err
		}
	}
}

// member reads an object key and its colon and returns the index of the
// name it matches, or -1. Matching is encoding/json's: the unescaped key
// equal to a name, else equal to one under Unicode simple case folding.
func (p *parser) member(field string, names []string) (int, error) {
	raw, esc, err := p.str(field)
	if err != nil {
		return 0, err
	}
	key := raw
	mark := len(p.tmp)
	if esc {
		p.tmp = unescape(p.tmp, raw)
		key = p.tmp[mark:]
	}
	f := -1
	for i, name := range names {
		if string(key) == name {
			f = i
			break
		}
	}
	if f < 0 {
		for i, name := range names {
			if foldEqual(key, name) {
				f = i
				break
			}
		}
	}
	p.tmp = p.tmp[:mark]
	if !p.Lit(":") {
		return 0, p.Fail(field, "expected ':' after an object key")
	}
	return f, nil
}

// foldEqual reports whether key equals the ASCII name under Unicode simple
// case folding, as encoding/json matches field names. The only non-ASCII
// runes that fold to ASCII letters are U+212A KELVIN SIGN (k) and U+017F
// LATIN SMALL LETTER LONG S (s).
func foldEqual(key []byte, name string) bool {
	j := 0
	for i := 0; i < len(key); {
		if j >= len(name) {
			return false
		}
		c, size := key[i], 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRune(key[i:])
			switch r {
			case '\u212a':
				c = 'k'
			case '\u017f':
				c = 's'
			default:
				return false
			}
		}
		if upper(c) != upper(name[j]) {
			return false
		}
		i += size
		j++
	}
	return j == len(name)
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// stringField reads a value decoded into a string field: a string sets it,
// null leaves it, anything else is a type error.
func (p *parser) stringField(v *jval, field string) error {
	switch {
	case p.Peek('"'):
		raw, esc, err := p.str(field)
		if err != nil {
			return err
		}
		*v = jval{raw, esc}
		return nil
	case p.Lit("null"):
		return nil
	}
	return p.typeError(field, "a string")
}

// numberField reads a value decoded into a json.Number field: a number
// sets its text, a string holding a valid number sets that, null leaves
// it, anything else is an error.
func (p *parser) numberField(v *jval, field string) error {
	switch {
	case p.Peek('"'):
		at := p.I
		raw, esc, err := p.str(field)
		if err != nil {
			return err
		}
		s := raw
		mark := len(p.tmp)
		if esc {
			p.tmp = unescape(p.tmp, raw)
			s = p.tmp[mark:]
		}
		ok := len(s) > 0 && numberLen(s) == len(s)
		p.tmp = p.tmp[:mark]
		if !ok {
			p.I = at
			return p.Fail(field, "a string that is not a number where a number belongs")
		}
		*v = jval{raw, esc}
		return nil
	case p.Lit("null"):
		return nil
	case p.Peek('-') || (p.I < len(p.B) && p.B[p.I]-'0' <= 9):
		text, err := p.number(field)
		if err != nil {
			return err
		}
		*v = jval{raw: text}
		return nil
	}
	return p.typeError(field, "a number")
}

// typeError refuses the value at p.I, which is not of the type want. The
// value's syntax is checked first so that a syntax error is reported as
// such.
func (p *parser) typeError(field, want string) error {
	at := p.I
	if err := p.skip(1, field); err != nil {
		return err
	}
	p.I = at
	return p.Fail(field, "not "+want)
}

// row appends the row of a transfer instruction of kind k, or returns why
// its params do not make one (the reference's errors).
func (m *Mapper) row(k kind, checked bool, ps *params, sig []byte) string {
	f := &ps.f
	var src, dst, auth, mint, mintAuth jval
	amount := f[fAmount]
	typ := ""
	switch k {
	case kindSPLTransfer:
		typ, src, dst, auth = TypeSPLTransfer, f[fSource], f[fDestination], or(f[fAuthority], f[fMultisigAuthority])
		if checked {
			mint = f[fMint]
		}
	case kindMintTo:
		typ, dst, mint, mintAuth = TypeMintTo, f[fAccount], f[fMint], or(f[fMintAuthority], f[fMultisigMintAuthority])
	case kindBurn:
		typ, src, auth, mint = TypeBurn, f[fAccount], or(f[fAuthority], f[fMultisigAuthority]), f[fMint]
	case kindSOLTransfer:
		typ, src, dst = TypeTransfer, f[fSource], f[fDestination]
		amount = f[fLamports]
	}
	m.dec = m.dec[:0]
	var decimals []byte
	if checked && ps.hasTokenAmount {
		amount = ps.ta[taAmount]
		if d := ps.ta[taDecimals]; len(d.raw) > 0 {
			decimals, m.dec = m.value(d)
			if !scan.IsDecimal(decimals) {
				return "tokenAmount.decimals " + clip(string(decimals)) + " is not an unsigned integer"
			}
		}
	}
	if len(amount.raw) == 0 {
		return "no amount"
	}
	var value []byte
	value, m.dec = m.value(amount)
	if !scan.IsDecimal(value) {
		return "amount " + clip(string(value)) + " is not an exact unsigned integer"
	}
	r := m.rows.Buf
	r = append(r, `{"source":`...)
	r = m.appendString(r, src)
	r = append(r, `,"destination":`...)
	r = m.appendString(r, dst)
	r = append(r, `,"authority":`...)
	r = m.appendString(r, auth)
	r = append(r, `,"value":"`...)
	r = append(r, value...)
	r = append(r, `","decimals":"`...)
	r = append(r, decimals...)
	r = append(r, `","mint":`...)
	r = m.appendString(r, mint)
	r = append(r, `,"mint_authority":`...)
	r = m.appendString(r, mintAuth)
	r = append(r, `,"transfer_type":"`...)
	r = append(r, typ...)
	r = append(r, `","tx_signature":"`...)
	r = append(r, sig...)
	r = append(r, `"}`...)
	m.rows.Buf = r
	m.rows.End()
	return ""
}

// value returns v's decoded bytes: v.raw itself, or v unescaped and
// appended to m.dec (returned updated).
func (m *Mapper) value(v jval) ([]byte, []byte) {
	if !v.esc {
		return v.raw, m.dec
	}
	start := len(m.dec)
	dec := unescape(m.dec, v.raw)
	return dec[start:len(dec):len(dec)], dec
}

// appendString appends v's value as encoding/json encodes a string:
// printable ASCII without escapes is copied as is, anything else is
// unescaped and re-escaped.
func (m *Mapper) appendString(dst []byte, v jval) []byte {
	if !v.esc && ascii(v.raw) {
		dst = append(dst, '"')
		dst = append(dst, v.raw...)
		return append(dst, '"')
	}
	s, dec := m.value(jval{v.raw, true})
	m.dec = dec
	return appendQuoted(dst, s)
}

// ascii reports whether s is ASCII only.
func ascii(s []byte) bool {
	for _, c := range s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// or is the reference's fallback from a field to its multisig variant: an
// empty value (absent, null or "") takes the other.
func or(a, b jval) jval {
	if len(a.raw) > 0 {
		return a
	}
	return b
}
