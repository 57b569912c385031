package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	got := count([]byte("The cat, the dog.\nA cat!\n"))
	want := Result{Lines: 2, Words: 6, Bytes: 25, Top: []WordCount{{"cat", 2}, {"the", 2}, {"a", 1}, {"dog", 1}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("count = %+v, want %+v", got, want)
	}
}

func TestRunStdinAndOutputs(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run(strings.NewReader("b a b\n"), &stdout, filepath.Join(t.TempDir(), "none"), out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "1 lines, 3 words, 6 bytes, sha256 ") {
		t.Errorf("stdout = %q", stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"word": "b",`) {
		t.Errorf("result.json = %s", b)
	}
}
