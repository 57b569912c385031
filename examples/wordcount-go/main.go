// Command wordcount counts lines, words and bytes of its input and the most
// frequent words, an example IPDM job written in Go.
//
// Build it as a WASI command and run it in the sandbox:
//
//	GOOS=wasip1 GOARCH=wasm go build -o wordcount.wasm ./examples/wordcount-go
//
// It reads every regular file under /inputs (in name order) or, when there is
// none, stdin, and writes result.json to /outputs when that directory exists
// (always a summary line to stdout). The SHA-256 of the input is computed by
// the host through package guest.
//
// Output must depend on the input alone: words are ranked by count, then
// alphabetically, never by map iteration order.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/ipdm/ipdm/wasm/guest"
)

// Result is written to /outputs/result.json.
type Result struct {
	Files  []string    `json:"files"`
	Lines  int         `json:"lines"`
	Words  int         `json:"words"`
	Bytes  int         `json:"bytes"`
	SHA256 string      `json:"sha256"`
	Top    []WordCount `json:"top"`
}

// WordCount is one word and how often it occurs.
type WordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

const topN = 10

func main() {
	if err := run(os.Stdin, os.Stdout, "/inputs", "/outputs"); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

func run(stdin io.Reader, stdout io.Writer, inputs, outputs string) error {
	var data []byte
	var files []string
	err := fs.WalkDir(os.DirFS(inputs), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path.Join(inputs, p))
		if err != nil {
			return err
		}
		files = append(files, p)
		data = append(data, b...)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(files) == 0 {
		if data, err = io.ReadAll(stdin); err != nil {
			return err
		}
	}
	res := count(data)
	res.Files = files
	sum := guest.SHA256(data)
	res.SHA256 = hex.EncodeToString(sum[:])

	fmt.Fprintf(stdout, "%d lines, %d words, %d bytes, sha256 %s\n", res.Lines, res.Words, res.Bytes, res.SHA256)
	if st, err := os.Stat(outputs); err == nil && st.IsDir() {
		out, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(path.Join(outputs, "result.json"), append(out, '\n'), 0o644)
	}
	return nil
}

// count is the pure part: words are runs of letters and digits, compared
// case-insensitively.
func count(data []byte) Result {
	res := Result{Bytes: len(data), Lines: bytes.Count(data, []byte{'\n'})}
	counts := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), len(data)+1)
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		for _, w := range strings.FieldsFunc(sc.Text(), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			counts[strings.ToLower(w)]++
			res.Words++
		}
	}
	for w, c := range counts {
		res.Top = append(res.Top, WordCount{w, c})
	}
	slices.SortFunc(res.Top, func(a, b WordCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Word, b.Word)
	})
	if len(res.Top) > topN {
		res.Top = res.Top[:topN]
	}
	return res
}
