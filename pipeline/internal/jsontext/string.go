package jsontext

import "unicode/utf8"

// Rules select how AppendString escapes what JSON leaves open. The zero
// value escapes only what JSON requires. Flags combine with |.
type Rules uint8

const (
	// ShortControl writes U+0008 and U+000C as \b and \f (as encoding/json
	// does since Go 1.22) instead of \u0008 and \u000c.
	ShortControl Rules = 1 << iota
	// EscapeLineSeparators writes U+2028 and U+2029 as \u2028 and \u2029
	// (they end lines in JavaScript) instead of verbatim.
	EscapeLineSeparators
	// ReplaceInvalid writes each byte that is not part of valid UTF-8 as
	// the character U+FFFD itself, so that decoding and re-encoding give
	// the same bytes.
	ReplaceInvalid
	// EscapeInvalid writes each byte that is not part of valid UTF-8 as the
	// escape \ufffd, as encoding/json does. It takes precedence over
	// ReplaceInvalid. Without either flag such bytes are copied verbatim,
	// and the result is JSON only if s is valid UTF-8.
	EscapeInvalid
)

// The presets the pipeline packages use.
const (
	// Minimal escapes only what JSON requires: the quote, the backslash
	// and control characters (\n, \r and \t short, the others as \u00XX).
	// Every other byte is copied, so s must be valid UTF-8.
	Minimal Rules = 0
	// Canonical is Minimal with U+2028 and U+2029 escaped and invalid
	// UTF-8 replaced by U+FFFD: re-encoding its decoded output is the
	// identity. pipeline/source's content-addressed encodings use it.
	Canonical = EscapeLineSeparators | ReplaceInvalid
	// EncodingJSON gives the bytes of encoding/json with HTML escaping off
	// (json.Encoder.SetEscapeHTML(false)), as module guest libraries
	// encode rows.
	EncodingJSON = ShortControl | EscapeLineSeparators | EscapeInvalid
)

const hexDigits = "0123456789abcdef"

// plain[c] reports whether the ASCII byte c is written as itself.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s to dst as a quoted JSON string escaped by rules
// and returns the extended slice.
func AppendString(dst []byte, s string, rules Rules) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is still to be copied verbatim
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b' && rules&ShortControl != 0:
				dst = append(dst, '\\', 'b')
			case c == '\f' && rules&ShortControl != 0:
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		if rules&(EscapeLineSeparators|ReplaceInvalid|EscapeInvalid) == 0 {
			i++ // every byte from here on is copied
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1 && rules&EscapeInvalid != 0:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == utf8.RuneError && size == 1 && rules&ReplaceInvalid != 0:
			dst = append(dst, s[start:i]...)
			dst = utf8.AppendRune(dst, utf8.RuneError)
		case (r == '\u2028' || r == '\u2029') && rules&EscapeLineSeparators != 0:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
