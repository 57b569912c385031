package jsontext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		in                        string
		minimal, canonical, encjs string
	}{
		{"", `""`, `""`, `""`},
		{"plain", `"plain"`, `"plain"`, `"plain"`},
		{`"\/`, `"\"\\/"`, `"\"\\/"`, `"\"\\/"`},
		{"\n\r\t", `"\n\r\t"`, `"\n\r\t"`, `"\n\r\t"`},
		{"\b\f", `"\u0008\u000c"`, `"\u0008\u000c"`, `"\b\f"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f\"", `"\u0000\u0001\u001f` + "\x7f\"", `"\u0000\u0001\u001f` + "\x7f\""},
		{"<a&b>", `"<a&b>"`, `"<a&b>"`, `"<a&b>"`},
		{"é😀", `"é😀"`, `"é😀"`, `"é😀"`},
		{"a\u2028b\u2029", "\"a\u2028b\u2029\"", `"a\u2028b\u2029"`, `"a\u2028b\u2029"`},
		{"\u2027\u202a", "\"\u2027\u202a\"", "\"\u2027\u202a\"", "\"\u2027\u202a\""},
		{"a\xffb", "\"a\xffb\"", "\"a\uFFFDb\"", `"a\ufffdb"`},
		{"\xe2\x80", "\"\xe2\x80\"", "\"\uFFFD\uFFFD\"", `"\ufffd\ufffd"`},
		{"\uFFFD", "\"\uFFFD\"", "\"\uFFFD\"", "\"\uFFFD\""},
		{"x\"y\u2028\xc0é", "\"x\\\"y\u2028\xc0é\"", "\"x\\\"y\\u2028\uFFFDé\"", "\"x\\\"y\\u2028\\ufffdé\""},
	}
	for _, tc := range tests {
		for _, c := range []struct {
			rules Rules
			want  string
		}{{Minimal, tc.minimal}, {Canonical, tc.canonical}, {EncodingJSON, tc.encjs}} {
			if got := string(AppendString(nil, tc.in, c.rules)); got != c.want {
				t.Errorf("AppendString(%q, %b) = %q, want %q", tc.in, c.rules, got, c.want)
			}
		}
	}
}

func TestAppendStringKeepsPrefix(t *testing.T) {
	dst := make([]byte, 0, 64)
	dst = append(dst, `{"k":`...)
	got := AppendString(dst, "v\n", EncodingJSON)
	if string(got) != `{"k":"v\n"` {
		t.Fatalf("got %q", got)
	}
}

// reference is AppendString written rune by rune, as the spec reads.
func reference(s string, rules Rules) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		raw := s[i : i+size]
		i += size
		switch {
		case r == utf8.RuneError && size == 1 && rules&EscapeInvalid != 0:
			b.WriteString(`\ufffd`)
		case r == utf8.RuneError && size == 1 && rules&ReplaceInvalid != 0:
			b.WriteRune(utf8.RuneError)
		case r == '"' || r == '\\':
			b.WriteString(`\` + raw)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b' && rules&ShortControl != 0:
			b.WriteString(`\b`)
		case r == '\f' && rules&ShortControl != 0:
			b.WriteString(`\f`)
		case r < 0x20, (r == '\u2028' || r == '\u2029') && rules&EscapeLineSeparators != 0:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(raw)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// encodingJSON is what encoding/json writes for s with HTML escaping off.
func encodingJSON(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// replaced is s with each byte that is not valid UTF-8 replaced by U+FFFD.
func replaced(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/", "\b\f\n\r\t\x00\x1f\x7f", "<a&b>", "é😀",
		"\u2028\u2029", "\xff", "\xe2\x80", "\xed\xa0\x80", "\uFFFD", "a\x00b\u2028c\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for rules := Rules(0); rules < EscapeInvalid<<1; rules++ {
			got := AppendString([]byte("p"), s, rules)
			if want := "p" + reference(s, rules); string(got) != want {
				t.Fatalf("AppendString(%q, %04b) = %q, want %q", s, rules, got, want)
			}
			out := got[1:]
			if !utf8.ValidString(s) && rules&(ReplaceInvalid|EscapeInvalid) == 0 {
				continue // verbatim invalid UTF-8 is not JSON, by contract
			}
			var back string
			if err := json.Unmarshal(out, &back); err != nil || back != replaced(s) {
				t.Fatalf("AppendString(%q, %04b) = %q decodes to %q, %v; want %q", s, rules, out, back, err, replaced(s))
			}
		}
		if got, want := string(AppendString(nil, s, EncodingJSON)), encodingJSON(s); got != want {
			t.Fatalf("EncodingJSON %q: got %q, encoding/json gives %q", s, got, want)
		}
		canon := AppendString(nil, s, Canonical)
		var back string
		if err := json.Unmarshal(canon, &back); err != nil {
			t.Fatal(err)
		}
		if again := AppendString(nil, back, Canonical); !bytes.Equal(again, canon) {
			t.Fatalf("Canonical is not idempotent on %q: %q, then %q", s, canon, again)
		}
	})
}

// BenchmarkAppendString compares EncodingJSON against encoding/json's
// Encoder (HTML escaping off) on typical row text.
func BenchmarkAppendString(b *testing.B) {
	s := strings.Repeat(`0xdac17f958d2ee523a2206206994597c13d831ec7 "transfer" é\n`, 4)
	var base, ours float64
	b.Run("encoding-json", func(b *testing.B) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for b.Loop() {
			buf.Reset()
			_ = enc.Encode(s)
		}
		base = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("jsontext", func(b *testing.B) {
		var dst []byte
		for b.Loop() {
			dst = AppendString(dst[:0], s, EncodingJSON)
		}
		ours = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if base > 0 && ours > 0 {
			b.ReportMetric(base/ours, "x-vs-encoding-json")
		}
	})
}

func TestLines(t *testing.T) {
	got, err := Lines([]byte("{\"a\": 18446744073709551616}\n{\"b\": \"x\"}\n"))
	if err != nil || len(got) != 2 || got[0]["a"] != json.Number("18446744073709551616") || got[1]["b"] != "x" {
		t.Fatalf("Lines = %v, %v", got, err)
	}
	if _, err := Lines([]byte(`{"a": 1} {`)); err == nil {
		t.Fatal("truncated input accepted")
	}
}
