package sink

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment of the TestCrashChild helper process.
const (
	envCrashURI    = "IPDM_SINK_CRASH_URI"
	envCrashSchema = "IPDM_SINK_CRASH_SCHEMA"
	envCrashSeed   = "IPDM_SINK_CRASH_SEED"
)

// crashName is the pipeline name the crash test writes under.
const crashName = "crash"

// TestCrashChild is not a test: TestCrashResume runs it in a child process,
// where it writes the deterministic chain in random-sized batches from its
// sink's cursor on, forever, until it is killed.
func TestCrashChild(t *testing.T) {
	uri := os.Getenv(envCrashURI)
	if uri == "" {
		t.Skip("helper process of TestCrashResume")
	}
	ctx := context.Background()
	s, err := Open(ctx, uri, Options{Name: crashName, Schema: os.Getenv(envCrashSchema)})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	cur, has, err := s.Cursor(ctx)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	next := uint64(1)
	if has {
		next = cur.Number + 1
	}
	fmt.Println("ready", next)
	seed, _ := strconv.ParseUint(os.Getenv(envCrashSeed), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 1))
	deadline := time.Now().Add(30 * time.Second) // in case the parent is gone
	for time.Now().Before(deadline) {
		hi := next + uint64(rng.IntN(12))
		if err := s.Write(ctx, chainRows(next, hi, 0), Cursor{Number: hi, Hash: hashOf(hi, 0)}); err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		next = hi + 1
	}
	os.Exit(4)
}

// TestCrashResume kills a writing process with SIGKILL at random moments,
// then resumes from the cursor and checks that every block's rows are
// stored exactly once.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	eachTarget(t, func(t *testing.T, tg target) {
		tg.opts.Name = crashName
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 2))
		torn := 0
		for round := range 4 {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(),
				envCrashURI+"="+tg.uri,
				envCrashSchema+"="+tg.opts.Schema,
				envCrashSeed+"="+strconv.FormatUint(seed+uint64(round), 10))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if !strings.HasPrefix(line, "ready") {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: child said %q, %v", round, line, err)
			}
			time.Sleep(time.Duration(20+rng.IntN(150)) * time.Millisecond)
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			cmd.Wait()
			if tg.kind == "jsonl" && jsonlTorn(t, tg) {
				torn++
			}
		}
		if tg.kind == "jsonl" {
			t.Logf("%d of 4 kills left uncommitted bytes behind", torn)
		}

		ctx := context.Background()
		s := openT(t, tg)
		cur, has, err := s.Cursor(ctx)
		if err != nil || !has || cur.Hash != hashOf(cur.Number, 0) {
			t.Fatalf("cursor after kills = %v, %v, %v", cur, has, err)
		}
		t.Logf("resuming after block %d", cur.Number)
		// Resume at cursor+1, as the engine does; replay a few committed
		// blocks first too, as a too-cautious engine might.
		writeBlocks(t, s, max(cur.Number, 3)-2, cur.Number+20, 0, 5)
		final := cur.Number + 20
		s.Close()
		checkContent(t, tg, chainRows(1, final, 0), Cursor{final, hashOf(final, 0)})
		if tg.kind == "jsonl" { // and the files hold exactly the lines
			path := strings.TrimPrefix(tg.uri, "jsonl:")
			want := chainRows(1, final, 0)
			for table, file := range map[string]string{"transfers": path, "blocks": derivedPath(path, "blocks")} {
				var b strings.Builder
				for _, r := range tableRows(want, table) {
					b.Write(r.JSON)
					b.WriteByte('\n')
				}
				got, err := os.ReadFile(file)
				if err != nil || string(got) != b.String() {
					t.Errorf("%s: content differs from the expected lines (%v)", filepath.Base(file), err)
				}
			}
		}
	})
}

// jsonlTorn reports whether a killed JSONL writer left bytes past the
// committed sizes.
func jsonlTorn(t *testing.T, tg target) bool {
	path := strings.TrimPrefix(tg.uri, "jsonl:")
	raw, err := os.ReadFile(path + cursorSuffix)
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeState(raw)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + indexSuffix); err == nil && fi.Size() > st.IndexSize {
		return true
	}
	for _, tb := range st.Tables {
		f := path
		if tb.Name != st.Main {
			f = derivedPath(path, tb.Name)
		}
		if fi, err := os.Stat(f); err == nil && fi.Size() > tb.Size {
			return true
		}
	}
	return false
}
