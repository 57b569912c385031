package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-car/v2"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/devnet"
)

// TestFetchAcrossNetwork adds on one daemon and fetches on another that was
// never told about the first: node1 and node2 only know node0 (their
// bootstrap peer), which does not hold the data, so node2 has to find node1
// as a provider through the DHT.
func TestFetchAcrossNetwork(t *testing.T) {
	net := startNet(t, 3, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(1, 5<<20+123)
	file := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	n1, n2 := net.Nodes[1], net.Nodes[2]
	root := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", n1.Repo, file))
	if _, err := cid.Decode(root); err != nil {
		t.Fatalf("add printed %q: %v", root, err)
	}
	// node0 must not hold it: discovery has to go through the DHT.
	c0 := net.Nodes[0].Client()
	defer c0.Close()
	if _, err := c0.BlockStat(ctx, root, 0); err == nil {
		// BlockStat fetches; that is fine too, but then node0 provides it.
		t.Log("node0 fetched the root itself")
	}
	start := time.Now()
	got := mustIPDM(t, "cat", "--repo", n2.Repo, root)
	if sum([]byte(got)) != sum(data) {
		t.Fatalf("node2 cat returned %d bytes that differ from the %d added", len(got), len(data))
	}
	t.Logf("node2 fetched %d bytes in %s", len(data), time.Since(start))

	out := filepath.Join(t.TempDir(), "out.bin")
	mustIPDM(t, "get", "--repo", n2.Repo, "-o", out, root)
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("get: %v (equal=%v)", err, bytes.Equal(b, data))
	}
}

// TestGatewayRawAndCAR fetches a directory through a third node's trustless
// gateway and checks the answers block by block.
func TestGatewayRawAndCAR(t *testing.T) {
	net := startNet(t, 3, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	big := randomBytes(2, 3<<20+5)
	os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o600)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "sub", "hello.txt"), []byte("hello world\n"), 0o600)
	root := strings.TrimSpace(mustIPDM(t, "add", "-r", "-Q", "--repo", net.Nodes[0].Repo, dir))

	gw := "http://" + net.Nodes[2].Gateway
	// Whole DAG as CAR: every block verified, complete, root first.
	blocks := getCAR(t, ctx, gw+"/ipfs/"+root+"?format=car", root)
	export := mustIPDM(t, "dag", "export", "--repo", net.Nodes[0].Repo, root)
	want := readCAR(t, strings.NewReader(export), root)
	if len(blocks) != len(want) {
		t.Fatalf("gateway CAR has %d blocks, dag export %d", len(blocks), len(want))
	}
	for c := range want {
		if _, ok := blocks[c]; !ok {
			t.Fatalf("gateway CAR lacks block %s", c)
		}
	}
	// A single raw block.
	resp := httpGet(t, ctx, gw+"/ipfs/"+root, "application/vnd.ipld.raw")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rc, _ := cid.Decode(root)
	if got, _ := rc.Prefix().Sum(raw); !got.Equals(rc) {
		t.Fatalf("raw block does not hash to %s", root)
	}
	// Path resolution, entity scope, and a byte range of the big file.
	// (The CAR root of a path request is the path's last element.)
	fileBlocks := getCAR(t, ctx, gw+"/ipfs/"+root+"/sub/hello.txt?format=car&dag-scope=entity", "")
	if len(fileBlocks) != 3 { // root directory, sub directory, the file (one raw leaf)
		t.Fatalf("entity CAR of sub/hello.txt: %d blocks, want 3", len(fileBlocks))
	}
	ranged := getCAR(t, ctx, gw+"/ipfs/"+root+"/big.bin?format=car&dag-scope=entity&entity-bytes=0:1000", "")
	if n := len(ranged); n != 3 { // root dir, file root, first leaf
		t.Fatalf("entity-bytes=0:1000 CAR: %d blocks, want 3", n)
	}
	// Malformed input.
	resp = httpGet(t, ctx, gw+"/ipfs/not-a-cid?format=raw", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad CID: status %d, want 400", resp.StatusCode)
	}
}

func httpGet(t *testing.T, ctx context.Context, url, accept string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func getCAR(t *testing.T, ctx context.Context, url, root string) map[cid.Cid]int {
	t.Helper()
	resp := httpGet(t, ctx, url, "")
	if resp.StatusCode == http.StatusGatewayTimeout {
		// Seen once in CI under full load: the first bitswap fetch of a
		// root stalled for the whole fetch timeout. Logged, retried once,
		// and tracked as an open problem.
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("GET %s: 504 (%s); retrying once", url, msg)
		resp = httpGet(t, ctx, url, "")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, msg)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.ipld.car") {
		t.Fatalf("GET %s: content type %q", url, ct)
	}
	return readCAR(t, resp.Body, root)
}

// readCAR parses a CAR, verifies every block against its CID and returns
// the blocks with their sizes.
func readCAR(t *testing.T, r io.Reader, root string) map[cid.Cid]int {
	t.Helper()
	br, err := car.NewBlockReader(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(br.Roots) != 1 || (root != "" && br.Roots[0].String() != root) {
		t.Fatalf("CAR roots %v, want %s", br.Roots, root)
	}
	out := map[cid.Cid]int{}
	for {
		b, err := br.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Cid().Prefix().Sum(b.RawData())
		if err != nil || !got.Equals(b.Cid()) {
			t.Fatalf("CAR block %s does not match its hash", b.Cid())
		}
		out[b.Cid()] = len(b.RawData())
	}
}

// TestKillDuringAdd kills a daemon with SIGKILL in the middle of a large
// add; after a restart the store opens and every block it holds is intact.
func TestKillDuringAdd(t *testing.T) {
	net := startNet(t, 1, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := net.Nodes[0]
	c := n.Client()
	defer c.Close()
	// An endless upload: the add can only end by the kill.
	src := &endless{seed: 7}
	addErr := make(chan error, 1)
	go func() {
		_, err := c.Add(ctx, "endless.bin", files.NewReaderFile(src), api.AddOptions{Pin: true})
		addErr <- err
	}()
	for {
		st, err := c.RepoStat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Blocks >= 40 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	net.Kill(0)
	if err := <-addErr; err == nil {
		t.Fatal("add of an endless stream succeeded")
	}
	if err := net.Start(ctx, 0); err != nil {
		t.Fatal(err)
	}
	c2 := net.Nodes[0].Client()
	defer c2.Close()
	res, err := c2.RepoVerify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked < 40 || len(res.Corrupt) != 0 {
		t.Fatalf("after kill -9: checked %d blocks, corrupt %v", res.Checked, res.Corrupt)
	}
	// The half-added file was never pinned: GC reclaims it.
	gc, err := c2.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gc.Removed < 40 {
		t.Fatalf("gc removed %d blocks, want the >= 40 orphans", gc.Removed)
	}
	t.Logf("verified %d blocks after SIGKILL, gc removed %d", res.Checked, gc.Removed)
}

// endless yields pseudo-random bytes for ever.
type endless struct {
	seed uint64
	buf  []byte
}

func (e *endless) Read(p []byte) (int, error) {
	if len(e.buf) == 0 {
		e.seed++
		e.buf = randomBytes(e.seed, 1<<20)
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	return n, nil
}

// TestLargeAddStreams uploads 512 MiB through the API and checks that the
// daemon's peak memory stays far below the file size: uploads stream.
func TestLargeAddStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("512 MiB upload skipped in -short mode")
	}
	net := startNet(t, 1, devnet.Options{})
	n := net.Nodes[0]
	c := n.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const size = 512 << 20
	res, err := c.Add(ctx, "big.bin", files.NewReaderFile(io.LimitReader(&endless{seed: 99}, size)), api.AddOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != size {
		t.Fatalf("added %d bytes, want %d", res.Bytes, size)
	}
	peak := peakRSS(t, n.PID())
	t.Logf("daemon peak RSS after a %d MiB add: %d MiB", size>>20, peak>>20)
	if peak > 256<<20 {
		t.Fatalf("daemon peak RSS %d MiB for a %d MiB upload: the upload is buffered", peak>>20, size>>20)
	}
}

// peakRSS reads VmHWM of a process from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Skipf("no /proc status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, err := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
