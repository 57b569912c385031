package blocks_test

import (
	"bufio"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipdm/ipdm/storage/blocks"
	blockformat "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// crashWriterEnv switches the test binary into the crash-test child: it
// writes blocks to the store folder named by the variable until killed,
// printing the CID of every block whose Put/PutMany has returned.
const crashWriterEnv = "IPDM_BLOCKS_CRASH_WRITER"

func crashWriter(dir string) {
	seed, _ := strconv.ParseUint(os.Getenv(crashWriterEnv+"_SEED"), 10, 64)
	d, err := blocks.OpenDisk(dir, blocks.DiskOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	r := mrand.New(mrand.NewPCG(seed, 1))
	ctx := context.Background()
	out := bufio.NewWriter(os.Stdout)
	newBlock := func() blockformat.Block {
		data := make([]byte, 1+r.IntN(512<<10))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.SHA2_256, MhLength: -1}.Sum(data)
		if err != nil {
			panic(err)
		}
		b, _ := blockformat.NewBlockWithCid(data, c)
		return b
	}
	for i := 0; ; i++ {
		var batch []blockformat.Block
		if i%2 == 0 {
			batch = []blockformat.Block{newBlock()}
			err = d.Put(ctx, batch[0])
		} else {
			for range 1 + r.IntN(8) {
				batch = append(batch, newBlock())
			}
			err = d.PutMany(ctx, batch)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "put:", err)
			os.Exit(2)
		}
		for _, b := range batch {
			fmt.Fprintln(out, b.Cid())
		}
		_ = out.Flush()
	}
}

// TestCrashMidWrite SIGKILLs a child process that is writing blocks, several
// times, and checks after each crash that the store opens, lists only whole
// blocks (every listed key reads back and hashes right), lost none of the
// blocks whose write had returned, and shows no temp-file junk.
func TestCrashMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "blocks")
	confirmed := map[string]bool{}
	ctx := context.Background()
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 2))

	for round := range 4 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashWriterEnv+"="+dir, fmt.Sprintf("%s_SEED=%d", crashWriterEnv, round+1))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		want := 10 + r.IntN(30)
		got := 0
		for got < want && lines.Scan() {
			confirmed[strings.TrimSpace(lines.Text())] = true
			got++
		}
		if got < want {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: writer stopped after %d blocks: %v", round, got, lines.Err())
		}
		// Kill at a random point of a following write.
		time.Sleep(time.Duration(r.IntN(15_000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for lines.Scan() { // blocks confirmed before the kill landed
			confirmed[strings.TrimSpace(lines.Text())] = true
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: writer exited by itself: %v", round, err)
		}

		// Temp files the kill left behind (a write was caught mid-way).
		junk := 0
		_ = filepath.WalkDir(filepath.Join(dir, ".temp"), func(_ string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				junk++
			}
			return nil
		})

		d, err := blocks.OpenDisk(dir, blocks.DiskOptions{})
		if err != nil {
			t.Fatalf("round %d: reopen after crash: %v", round, err)
		}
		ch, err := d.AllKeysChan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for c := range ch {
			listed[string(c.Hash())] = true
			if _, err := d.Get(ctx, c); err != nil {
				t.Fatalf("round %d: listed block %s does not read back: %v", round, c, err)
			}
		}
		for s := range confirmed {
			c, err := cid.Decode(s)
			if err != nil {
				t.Fatalf("child printed %q: %v", s, err)
			}
			if !listed[string(c.Hash())] {
				t.Fatalf("round %d: block %s was confirmed written but is gone", round, c)
			}
		}
		st, err := d.Stat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Blocks != int64(len(listed)) || st.Corrupt != 0 {
			t.Fatalf("round %d: stats %+v, listed %d", round, st, len(listed))
		}
		if _, err := os.Stat(d.QuarantineDir()); !os.IsNotExist(err) {
			t.Fatalf("round %d: quarantine folder exists after crash (%v)", round, err)
		}
		// Every file in a shard folder is a listed block; temp files live in
		// .temp, which the open emptied.
		files := 0
		shards, _ := os.ReadDir(dir)
		for _, sh := range shards {
			if !sh.IsDir() || strings.HasPrefix(sh.Name(), ".") {
				continue
			}
			ents, err := os.ReadDir(filepath.Join(dir, sh.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				files++
				if !strings.HasSuffix(e.Name(), ".data") {
					t.Fatalf("round %d: stray file %s/%s", round, sh.Name(), e.Name())
				}
			}
		}
		if files != len(listed) {
			t.Fatalf("round %d: %d block files, %d listed", round, files, len(listed))
		}
		if tmp, _ := os.ReadDir(filepath.Join(dir, ".temp")); len(tmp) != 0 {
			t.Fatalf("round %d: %d temp files survived open", round, len(tmp))
		}
		t.Logf("round %d: killed after %d+ confirmed blocks, %d temp files left by the kill; store holds %d", round, got, junk, len(listed))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
