package gateway

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
)

// kubo runs a stock Kubo CLI against a private repository, offline.
type kubo struct {
	t    testing.TB
	bin  string
	repo string
}

func newKubo(t testing.TB) *kubo {
	t.Helper()
	bin := os.Getenv("IPDM_KUBO_BIN")
	if bin == "" {
		t.Skip("IPDM_KUBO_BIN not set: skipping interoperability test with Kubo")
	}
	k := &kubo{t: t, bin: bin, repo: t.TempDir()}
	k.mustRun(nil, "init", "--profile=unixfs-v1-2025,test")
	return k
}

func (k *kubo) run(stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.repo)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &kuboError{args: args, err: err, stderr: stderr.String()}
	}
	return out, nil
}

func (k *kubo) mustRun(stdin []byte, args ...string) []byte {
	k.t.Helper()
	out, err := k.run(stdin, args...)
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

type kuboError struct {
	args   []string
	err    error
	stderr string
}

func (e *kuboError) Error() string {
	return "ipfs " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + e.stderr
}

// Kubo imports our CAR responses and reads the content back from them alone
// (offline): the full DAG, and a file range from an entity-bytes CAR, which
// must not be enough to read bytes outside the range.
func TestKuboReadsOurCARs(t *testing.T) {
	k := newKubo(t)
	d := newTestDAG(t)
	srv := newTestServer(t, d.bserv, TrustlessOptions{})

	full := do(t, srv, http.MethodGet, "/ipfs/"+d.root.String()+"?format=car").expect(t, http.StatusOK)
	k.mustRun(full.body, "dag", "import", "--pin-roots=false", "--offline")
	if got := k.mustRun(nil, "cat", "--offline", "/ipfs/"+d.root.String()+"/sub/file"); !bytes.Equal(got, d.fileData) {
		t.Fatalf("kubo read %d bytes of the file, want %d identical", len(got), len(d.fileData))
	}
	if got := k.mustRun(nil, "cat", "--offline", "/ipfs/"+d.root.String()+"/hello.txt"); !bytes.Equal(got, d.smallData) {
		t.Fatalf("kubo read %q", got)
	}
	raw := do(t, srv, http.MethodGet, "/ipfs/"+d.sub.String()+"?format=raw").expect(t, http.StatusOK)
	if got := k.mustRun(nil, "block", "get", "--offline", d.sub.String()); !bytes.Equal(got, raw.body) {
		t.Fatal("kubo's copy of a block differs from our raw response")
	}

	k2 := newKubo(t)
	part := do(t, srv, http.MethodGet, "/ipfs/"+d.root.String()+"/sub/file?format=car&entity-bytes=2000:5000").expect(t, http.StatusOK)
	k2.mustRun(part.body, "dag", "import", "--pin-roots=false", "--offline")
	got := k2.mustRun(nil, "cat", "--offline", "--offset=2000", "--length=3001", "/ipfs/"+d.root.String()+"/sub/file")
	if !bytes.Equal(got, d.fileData[2000:5001]) {
		t.Fatalf("kubo read %d bytes of the range from the entity-bytes CAR", len(got))
	}
	if _, err := k2.run(nil, "cat", "--offline", "--offset=0", "--length=10", "/ipfs/"+d.root.String()+"/sub/file"); err == nil || !strings.Contains(err.Error(), "failed to fetch") {
		t.Fatalf("reading bytes outside the entity-bytes range: err = %v, want kubo unable to fetch the blocks (the CAR must be minimal)", err)
	}
}

// Our gateway serves a DAG built by Kubo exactly: the blocks of a full CAR
// are the blocks Kubo itself exports, and each raw block is Kubo's.
func TestOurGatewayServesKuboDAG(t *testing.T) {
	k := newKubo(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, 3<<20+123) // several 1 MiB chunks
	for i := range big {
		big[i] = byte(rng.UintN(256))
	}
	if err := os.MkdirAll(filepath.Join(dir, "d", "nested"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"d/big.bin": big, "d/nested/a.txt": []byte("a\n"), "d/b.txt": []byte("bee\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rootStr := strings.TrimSpace(string(k.mustRun(nil, "add", "-Q", "-r", "--offline", filepath.Join(dir, "d"))))
	root, err := cid.Decode(rootStr)
	if err != nil {
		t.Fatal(err)
	}
	export := k.mustRun(nil, "dag", "export", "--offline", rootStr)

	bstore := newMemBlockstore()
	br, err := car.NewBlockReader(bytes.NewReader(export))
	if err != nil {
		t.Fatal(err)
	}
	var kuboBlocks []cid.Cid
	for {
		blk, err := br.Next()
		if err != nil {
			break
		}
		kuboBlocks = append(kuboBlocks, blk.Cid())
		if err := bstore.Put(context.Background(), blk); err != nil {
			t.Fatal(err)
		}
	}
	if len(kuboBlocks) < 6 {
		t.Fatalf("kubo exported only %d blocks", len(kuboBlocks))
	}
	srv := newTestServer(t, blockservice.New(bstore, offline.Exchange(bstore)), TrustlessOptions{})

	r := do(t, srv, http.MethodGet, "/ipfs/"+root.String()+"?format=car").expect(t, http.StatusOK)
	_, got := readCAR(t, r.body)
	sortC := func(s []cid.Cid) []cid.Cid { return slices.SortedFunc(slices.Values(s), cmpCid) }
	if !slices.Equal(sortC(got), sortC(kuboBlocks)) {
		t.Fatalf("our CAR has %d blocks, kubo's export %d; sets differ", len(got), len(kuboBlocks))
	}
	for _, c := range kuboBlocks {
		raw := do(t, srv, http.MethodGet, "/ipfs/"+c.String()+"?format=raw").expect(t, http.StatusOK)
		if want := k.mustRun(nil, "block", "get", "--offline", c.String()); !bytes.Equal(raw.body, want) {
			t.Fatalf("block %s differs from kubo's", c)
		}
	}

	// Kubo reads the big file back from our path CAR alone.
	k2 := newKubo(t)
	r = do(t, srv, http.MethodGet, "/ipfs/"+root.String()+"/big.bin?format=car").expect(t, http.StatusOK)
	k2.mustRun(r.body, "dag", "import", "--pin-roots=false", "--offline")
	if got := k2.mustRun(nil, "cat", "--offline", "/ipfs/"+root.String()+"/big.bin"); !bytes.Equal(got, big) {
		t.Fatalf("kubo read %d bytes, want %d identical", len(got), len(big))
	}
}
