package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The examples in /examples, built from source and run in the sandbox.

func TestWordcountGoExample(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := mustCompile(t, rt, goGuest(t, "examples/wordcount-go"))
	in := t.TempDir()
	files := map[string]string{"b.txt": "the cat and the hat\n", "a.txt": "The end.\n"}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(in, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	res := mustRun(t, rt, m, RunSpec{Inputs: []Input{{Name: "texts", Path: in}}, OutputDir: out})
	if !res.Success() {
		t.Fatalf("%+v\n%s", res, res.Stderr)
	}
	var got struct {
		Files  []string
		Lines  int
		Words  int
		SHA256 string
		Top    []struct {
			Word  string
			Count int
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	all := files["a.txt"] + files["b.txt"] // read in name order
	sum := sha256.Sum256([]byte(all))
	if fmt.Sprint(got.Files) != "[texts/a.txt texts/b.txt]" || got.Lines != 2 || got.Words != 7 ||
		got.SHA256 != hex.EncodeToString(sum[:]) || got.Top[0].Word != "the" || got.Top[0].Count != 3 {
		t.Errorf("result.json = %s", b)
	}
	if res.OutputBytes != int64(len(b)) {
		t.Errorf("OutputBytes = %d, want %d", res.OutputBytes, len(b))
	}

	// Without inputs it reads stdin (the first file input) and, without
	// /outputs, only prints.
	res = mustRun(t, rt, m, RunSpec{Inputs: []Input{{Name: "b.txt", Path: filepath.Join(in, "b.txt")}}})
	if want := "1 lines, 5 words, 20 bytes"; !bytes.HasPrefix(res.Stdout, []byte(want)) {
		t.Errorf("stdout = %q, want prefix %q", res.Stdout, want)
	}
}

func TestCSVFilterCExample(t *testing.T) {
	wasm := cGuest(t, "examples/csvfilter-c/csvfilter.c")
	rt := newRuntime(t, Config{})
	m := mustCompile(t, rt, wasm)
	fixture := filepath.Join(moduleRoot(t), "..", "shared", "fixtures", "solana", "slot-138802069", "instructions.csv")
	if _, err := os.Stat(fixture); err != nil {
		t.Skipf("fixture missing (../shared beside the checkout): %v", err)
	}

	// Expected rows, by Go's encoding/csv.
	f, err := os.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	col := 6 // program
	var want [][]string
	want = append(want, rows[0])
	for _, r := range rows[1:] {
		if r[col] == "spl-token" {
			want = append(want, r)
		}
	}

	out := t.TempDir()
	spec := RunSpec{Args: []string{"csvfilter", rows[0][col], "spl-token"}, Inputs: []Input{{Name: "instructions.csv", Path: fixture}}, OutputDir: out}
	res := mustRun(t, rt, m, spec)
	if !res.Success() {
		t.Fatalf("%+v\n%s", res, res.Stderr)
	}
	filtered, err := os.ReadFile(filepath.Join(out, "filtered.csv"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(bytes.NewReader(filtered)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("filtered.csv has %d rows, want %d", len(got), len(want))
	}
	sum := sha256.Sum256(filtered)
	wantOut := fmt.Sprintf("rows %d matched %d sha256 %x\n", len(rows)-1, len(want)-1, sum)
	if string(res.Stdout) != wantOut {
		t.Errorf("stdout = %q, want %q", res.Stdout, wantOut)
	}
	t.Logf("%s in %v, fuel %d", bytes.TrimSpace(res.Stdout), res.Duration, res.FuelUsed)

	again := mustRun(t, newRuntime(t, Config{}), m, RunSpec{Args: spec.Args, Inputs: spec.Inputs, OutputDir: t.TempDir()})
	if again.FuelUsed != res.FuelUsed || !bytes.Equal(again.Stdout, res.Stdout) {
		t.Error("second run differs")
	}
	bad := mustRun(t, rt, m, RunSpec{Args: []string{"csvfilter", "nope", "x"}, Inputs: spec.Inputs})
	if bad.ExitCode != 2 || !bytes.Contains(bad.Stderr, []byte("no column nope")) {
		t.Errorf("unknown column: %+v, stderr %q", bad, bad.Stderr)
	}
}
