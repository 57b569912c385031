package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/devnet"
	"github.com/ipdm/ipdm/pipeline/engine"
	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/sink"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/pipeline/source/sourcetest"
)

// fixtures returns ../shared/fixtures, or skips.
func fixtures(t testing.TB) string {
	t.Helper()
	dir, _ := filepath.Abs("../../shared/fixtures")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared fixtures not found at %s", dir)
	}
	return dir
}

const erc20Manifest = "../examples/erc20-transfers/ipdm.yaml"

// referenceTransfers returns the rows pipeline/reference (an independent
// native implementation) gives for ETL files in dir, as JSON lines.
func referenceTransfers(t testing.TB, dir string) []string {
	t.Helper()
	open := func(name string) io.Reader {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) && name == "transactions.json" {
			return nil // an export without transactions
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	blocks, err := source.DecodeETL(open("blocks.json"), open("transactions.json"), open("logs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range blocks {
		for _, tr := range reference.TokenTransfers(b) {
			j, _ := json.Marshal(tr)
			out = append(out, string(j))
		}
	}
	return out
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var outputCIDRe = regexp.MustCompile(`\(CID (\w+)\)`)

// outputCIDs returns the output and store CIDs a run printed.
func outputCIDs(t *testing.T, out string) []string {
	t.Helper()
	var cids []string
	for _, m := range outputCIDRe.FindAllStringSubmatch(out, -1) {
		cids = append(cids, m[1])
	}
	if len(cids) < 2 {
		t.Fatalf("no output and store CIDs in:\n%s", out)
	}
	return cids
}

// TestPipelineLocalConformance: the one-command example run, in this
// process, reproduces the independent reference on the larger Ethereum set,
// and segment sizes 1 and 2 give the same output and store CIDs.
func TestPipelineLocalConformance(t *testing.T) {
	fx := fixtures(t)
	dir := t.TempDir()
	src := "file:" + filepath.Join(fx, "ethereum/mainnet-17173049-17173050/logs.json")
	want := referenceTransfers(t, filepath.Join(fx, "ethereum/mainnet-17173049-17173050"))
	var first []string
	for _, size := range []string{"1", "2", "1000"} {
		out := mustIPDM(t, "pipeline", "run", erc20Manifest, "--repo", filepath.Join(dir, "norepo"), "--local",
			"--source", src, "--sink", "jsonl:"+filepath.Join(dir, "out"+size+".jsonl"), "--segment-size", size)
		got := readLines(t, filepath.Join(dir, "out"+size+".jsonl"))
		if !slices.Equal(got, want) {
			t.Fatalf("segment size %s: %d rows differ from the reference's %d", size, len(got), len(want))
		}
		cids := outputCIDs(t, out)
		if first == nil {
			first = cids
		} else if !slices.Equal(cids, first) {
			t.Errorf("segment size %s: output/store CIDs %v, want %v", size, cids, first)
		}
	}
	// The small set, from raw JSON-RPC responses, gives the fixture's
	// expected transfer exactly.
	small := filepath.Join(fx, "ethereum/mainnet-1755634-1755635")
	mustIPDM(t, "pipeline", "run", erc20Manifest, "--repo", filepath.Join(dir, "norepo"), "--local",
		"--source", "file:"+small, "--sink", "jsonl:"+filepath.Join(dir, "small.jsonl"))
	expected, err := os.ReadFile(filepath.Join(small, "expected_token_transfers.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := readLines(t, filepath.Join(dir, "small.jsonl"))
	exp := strings.Split(strings.TrimSpace(string(expected)), "\n")
	if len(got) != len(exp) {
		t.Fatalf("small set: %d rows, want %d", len(got), len(exp))
	}
	for i := range exp {
		var e, g map[string]json.RawMessage
		dec := json.NewDecoder(strings.NewReader(exp[i]))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal([]byte(got[i]), &g)
		for _, k := range []string{"token_address", "from_address", "to_address", "transaction_hash", "log_index", "block_number"} {
			if string(e[k]) != string(g[k]) {
				t.Errorf("row %d %s: got %s want %s", i, k, g[k], e[k])
			}
		}
		if v := strings.Trim(string(g["value"]), `"`); v != string(e["value"]) {
			t.Errorf("row %d value: got %s want %s", i, v, e["value"])
		}
	}
}

// TestPipelineNetwork: a backfill as verified segment jobs over 5 daemons
// gives the local run's output and store CIDs; a second run — from another
// node — reuses every segment output and does no Wasm work.
func TestPipelineNetwork(t *testing.T) {
	fx := fixtures(t)
	net := startNet(t, 5, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 4); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := "file:" + filepath.Join(fx, "ethereum/mainnet-17173049-17173050/logs.json")
	local := mustIPDM(t, "pipeline", "run", erc20Manifest, "--repo", filepath.Join(dir, "norepo"), "--local", "--source", src, "--segment-size", "1")
	want := outputCIDs(t, local)

	out := mustIPDM(t, "pipeline", "run", erc20Manifest, "--repo", net.Nodes[0].Repo, "--source", src,
		"--sink", "jsonl:"+filepath.Join(dir, "net.jsonl"), "--segment-size", "1", "--replicas", "2", "--summary", filepath.Join(dir, "a.json"))
	if got := outputCIDs(t, out); !slices.Equal(got, want) {
		t.Fatalf("network run CIDs %v, local %v\n%s", got, want, out)
	}
	if !strings.Contains(out, "verified segment jobs: 2") {
		t.Errorf("expected 2 segment jobs:\n%s", out)
	}
	if got := readLines(t, filepath.Join(dir, "net.jsonl")); !slices.Equal(got, referenceTransfers(t, filepath.Join(fx, "ethereum/mainnet-17173049-17173050"))) {
		t.Error("network run rows differ from the reference")
	}
	// Another node's run finds the outputs through node 0's cache.
	again := mustIPDM(t, "pipeline", "run", erc20Manifest, "--repo", net.Nodes[3].Repo, "--source", src, "--segment-size", "1", "--summary", filepath.Join(dir, "b.json"))
	if !strings.Contains(again, " 0 module-segments computed, 4 cached") {
		t.Errorf("second run was not served from the cache:\n%s", again)
	}
	if got := outputCIDs(t, again); !slices.Equal(got, want) {
		t.Errorf("cached run CIDs %v, want %v", got, want)
	}
	// Two runs of the same data: diff finds no difference.
	if out := mustIPDM(t, "pipeline", "diff", filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), "--repo", net.Nodes[0].Repo); !strings.Contains(out, "identical") {
		t.Errorf("diff of equal runs: %s", out)
	}
	// The records carry the evidence for their outputs: the job's receipts
	// from both replicas. A record without it is not trusted: node 4,
	// holding a copy of a record stripped of its receipts, recomputes that
	// segment (and says why) and takes the others from its peers.
	var sum struct {
		Digests map[string][]struct{ Segment, CID string } `json:"digests"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "a.json")); err != nil || json.Unmarshal(data, &sum) != nil || len(sum.Digests["erc20_transfers"]) == 0 {
		t.Fatalf("summary a.json: %v", err)
	}
	first := sum.Digests["erc20_transfers"][0]
	o, err := engine.DecodeOutput([]byte(mustIPDM(t, "cat", "--repo", net.Nodes[0].Repo, first.CID)))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := net.Nodes[0].Client().SegmentCacheGet(ctx, o.Identity, first.Segment)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Receipts) != 2 || rec.Job == "" || rec.Result == "" {
		t.Fatalf("record of %s carries %d receipts (job %q, result %q), want both replicas'", first.Segment, len(rec.Receipts), rec.Job, rec.Result)
	}
	rec.Receipts, rec.Job, rec.Result, rec.Node = nil, "", "", ""
	if err := net.Nodes[4].Client().SegmentCachePut(ctx, rec); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := ipdm(t, nil, "pipeline", "run", erc20Manifest, "--repo", net.Nodes[4].Repo, "--source", src, "--segment-size", "1")
	if code != 0 || !strings.Contains(stderr, "segment "+o.Identity+"/"+first.Segment+": not reusing the output") || !strings.Contains(stderr, "it carries no job receipts") {
		t.Errorf("a record without receipts was not refused (exit %d):\n%s", code, stderr)
	}
	if !strings.Contains(stdout, " 1 module-segments computed, 3 cached") {
		t.Errorf("expected one module-segment recomputed, the rest cached:\n%s", stdout)
	}
	if got := outputCIDs(t, stdout); !slices.Equal(got, want) {
		t.Errorf("run after refusing a record: CIDs %v, want %v", got, want)
	}
}

// TestPipelineLiarCaught: one executor lies about every segment it runs;
// with 3 replicas and a quorum of 2 it is out-voted, the output is the
// honest one, and `pipeline diff` bisects its answer to the altered block.
func TestPipelineLiarCaught(t *testing.T) {
	fx := fixtures(t)
	net := startNet(t, 4, devnet.Options{PerNodeArgs: map[int][]string{3: {"--fault", "lie"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := "file:" + filepath.Join(fx, "ethereum/mainnet-17173049-17173050/logs.json")
	out := mustIPDM(t, "pipeline", "run", erc20Manifest, "--repo", net.Nodes[0].Repo, "--source", src,
		"--sink", "jsonl:"+filepath.Join(dir, "out.jsonl"), "--replicas", "4", "--json")
	var sum struct {
		Output string `json:"output"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := readLines(t, filepath.Join(dir, "out.jsonl")); !slices.Equal(got, referenceTransfers(t, filepath.Join(fx, "ethereum/mainnet-17173049-17173050"))) {
		t.Fatal("rows differ from the reference despite the quorum")
	}
	// The segment job records the liar as dissenting; diff its result
	// against the accepted one.
	c := net.Nodes[0].Client()
	defer c.Close()
	liar := net.Nodes[3].PeerID
	var job api.Job
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		jobs, err := c.JobList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if d := describe(t, net.Nodes[0], j.ID); slices.Contains(d.Dissenting, liar) {
				job = d
			}
		}
		if job.ID != "" || time.Since(start) > 10*time.Second {
			break
		}
	}
	if job.ID == "" {
		t.Fatal("no segment job recorded the liar as dissenting")
	}
	var lie string
	for _, x := range job.Executions {
		if x.Node == liar && x.Result != "" {
			lie = x.Result
		}
	}
	if lie == "" {
		t.Fatalf("the liar's execution has no result: %+v", job.Executions)
	}
	dout, _, code := ipdm(t, nil, "pipeline", "diff", job.Result, lie, "--repo", net.Nodes[0].Repo, "--timeout", "30s")
	if code == 0 || !regexp.MustCompile(`erc20_transfers \d+-\d+: first difference at block 1717305\d \(output\)`).MatchString(dout) {
		t.Fatalf("diff (exit %d):\n%s", code, dout)
	}
}

// TestPipelineResumePostgres: kill -9 the coordinating `pipeline run` in
// the middle of a backfill into PostgreSQL; a rerun resumes from the sink's
// cursor and the table ends with exactly the expected rows.
func TestPipelineResumePostgres(t *testing.T) {
	dsn := os.Getenv("IPDM_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IPDM_POSTGRES_DSN not set: no PostgreSQL server to test against")
	}
	fx := fixtures(t)
	dir := t.TempDir()
	chain := synthChain(t, filepath.Join(fx, "ethereum/mainnet-17173049-17173050"), filepath.Join(dir, "chain"), 400, false)
	want := referenceTransfers(t, chain)

	// A schema of its own: the sink creates its tables and cursor there.
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	schema := fmt.Sprintf("ipdm_resume_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	dsn += sep + "search_path=" + schema
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	net := startNet(t, 3, devnet.Options{})
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := net.WaitPeers(wctx, 2); err != nil {
		t.Fatal(err)
	}
	args := []string{"pipeline", "run", erc20Manifest, "--repo", net.Nodes[0].Repo, "--source", "file:" + filepath.Join(chain, "logs.json"),
		"--sink", "postgres:" + dsn, "--segment-size", "4", "--parallel", "2"}
	cmd := exec.Command(ipdmBin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once the cursor shows progress, well before the end.
	var at int64
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if err := conn.QueryRow(ctx, `SELECT number FROM ipdm_cursor WHERE name = 'erc20-transfers'`).Scan(&at); err == nil && at >= 100_000_040 {
			break
		}
		if time.Since(start) > 90*time.Second {
			cmd.Process.Kill()
			t.Fatal("the backfill made no progress")
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	var n int
	conn.QueryRow(ctx, `SELECT number FROM ipdm_cursor WHERE name = 'erc20-transfers'`).Scan(&at)
	conn.QueryRow(ctx, `SELECT count(*) FROM erc20_transfers`).Scan(&n)
	t.Logf("killed at cursor %d with %d of %d rows written", at, n, len(want))
	if at >= 100_000_399 {
		t.Log("the run finished before the kill; resume is still checked")
	}

	out, errs, code := ipdm(t, nil, args...)
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "resuming") {
		t.Errorf("rerun did not resume from the cursor:\n%s", errs)
	}
	rows, err := conn.Query(ctx, `SELECT token_address, from_address, to_address, value, transaction_hash, log_index, block_number FROM erc20_transfers ORDER BY _block, _index`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var tok, from, to, val, tx, li, bn string
		if err := rows.Scan(&tok, &from, &to, &val, &tx, &li, &bn); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf(`{"token_address":%q,"from_address":%q,"to_address":%q,"value":%q,"transaction_hash":%q,"log_index":%s,"block_number":%s}`, tok, from, to, val, tx, li, bn))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("PostgreSQL holds %d rows, want exactly %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// synthChain writes an ethereum-etl chain of n blocks (100000000 on) into
// dir: each block carries the logs (and, withTxs, the transactions) of one
// of the fixture's blocks, with new block numbers, hashes and times, so it
// has real transfer logs.
func synthChain(t testing.TB, fixture, dir string, n int, withTxs bool) string {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	read := func(name string) []map[string]any {
		f, err := os.Open(filepath.Join(fixture, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out []map[string]any
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	blocks, txs, logs := read("blocks.json"), read("transactions.json"), read("logs.json")
	hash := func(i int) string { return fmt.Sprintf("0x%064x", 0xb10c0000+i) }
	write := func(name string, rows []map[string]any) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		enc := json.NewEncoder(f)
		for _, r := range rows {
			enc.Encode(r)
		}
	}
	var ob, ot, ol []map[string]any
	for i := range n {
		src := blocks[i%len(blocks)]
		num := json.Number(fmt.Sprint(100_000_000 + i))
		srcNum := src["number"].(json.Number)
		b := clone(src)
		b["number"], b["hash"], b["parent_hash"], b["timestamp"] = num, hash(i), hash(i-1), json.Number(fmt.Sprint(1_700_000_000+12*i))
		ob = append(ob, b)
		for _, x := range txs {
			if x["block_number"] == srcNum {
				y := clone(x)
				y["block_number"], y["block_hash"], y["block_timestamp"] = num, hash(i), b["timestamp"]
				ot = append(ot, y)
			}
		}
		for _, x := range logs {
			if x["block_number"] == srcNum {
				y := clone(x)
				y["block_number"], y["block_hash"], y["block_timestamp"] = num, hash(i), b["timestamp"]
				ol = append(ol, y)
			}
		}
	}
	write("blocks.json", ob)
	if withTxs {
		write("transactions.json", ot)
	}
	write("logs.json", ol)
	return dir
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// TestPipelineReorg: following a live chain whose head reorganises, the
// sink ends with exactly the rows of the canonical chain: the output's, and
// the window results and rule matches a backfill of the canonical chain
// writes, also across a restart of the follower.
func TestPipelineReorg(t *testing.T) {
	chain := sourcetest.NewEthereum(t, sourcetest.EthereumOptions{First: 100, Blocks: 5, TransfersPerBlock: 3})
	dir := t.TempDir()
	out := filepath.Join(dir, "live.jsonl")
	// The example's manifest, with windows and a rule small enough to give
	// results over a few blocks (the example's window spans 100 blocks, and
	// its rule's recipients never repeat in this chain).
	manifest := filepath.Join(dir, "ipdm.yaml")
	doc, err := os.ReadFile(erc20Manifest)
	if err != nil {
		t.Fatal(err)
	}
	doc = []byte(strings.Replace(strings.Replace(string(doc), "\nwindows:\n", `
windows:
  - name: per_4_blocks
    module: erc20_transfers
    kind: tumbling
    size: 4
    group_by: token_address
    sum: [value]
  - name: per_36s
    module: erc20_transfers
    kind: sliding
    size: 36s
    step: 12s
    group_by: token_address
`, 1), "\nrules:\n", `
rules:
  - name: token_again
    first: erc20_transfers
    then: erc20_transfers
    within: 2
    key: token_address
`, 1))
	wasmFile, err := os.ReadFile(filepath.Join(filepath.Dir(erc20Manifest), "erc20_transfers.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "erc20_transfers.wasm"), wasmFile, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ipdmBin, "pipeline", "run", manifest, "--repo", filepath.Join(dir, "norepo"),
		"--source", chain.URI(), "--sink", "jsonl:"+out, "--from", "100", "--follow", "--until", "112", "--poll", "50ms")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until the follower has the head, then reorganise the last two
	// blocks into three others and grow the chain to 112.
	for start := time.Now(); !strings.Contains(stderr.String(), "block 104 "); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			cmd.Process.Kill()
			t.Fatalf("the follower never reached block 104:\n%s", stderr.String())
		}
	}
	chain.Reorg(2, 1)
	time.Sleep(300 * time.Millisecond)
	chain.Extend(7)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the follower did not reach block 112:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "reorg: undoing every block after 102") {
		t.Errorf("no undo to block 102 reported:\n%s", stderr.String())
	}
	var want []string
	for _, b := range chain.Canonical() {
		if b.Number > 112 {
			break
		}
		for _, tr := range reference.TokenTransfers(b) {
			j, _ := json.Marshal(tr)
			want = append(want, string(j))
		}
	}
	if got := readLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("sink after the reorg: %d rows, canonical chain %d rows\n got %v\nwant %v", len(got), len(want), got, want)
	}

	// A restart: the follower rebuilds its stores, windows and rules from
	// the blocks up to the sink's cursor and continues to 114.
	chain.Extend(3)
	mustIPDM(t, "pipeline", "run", manifest, "--repo", filepath.Join(dir, "norepo"), "--source", chain.URI(),
		"--sink", "jsonl:"+out, "--from", "100", "--follow", "--until", "114", "--poll", "50ms")
	// A backfill of the canonical chain to 115 writes the same window
	// results and rule matches under blocks up to 114 (at 115 it flushes
	// the windows still open, which a live run never does).
	back := filepath.Join(dir, "backfill.jsonl")
	mustIPDM(t, "pipeline", "run", manifest, "--repo", filepath.Join(dir, "norepo"), "--local", "--source", chain.URI(),
		"--sink", "jsonl:"+back, "--from", "100", "--to", "115")
	rows := func(path, table string) []string {
		t.Helper()
		rs, err := sink.Rows(context.Background(), "jsonl:"+path, sink.Options{}, table)
		if errors.Is(err, sink.ErrNoTable) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			if r.Block <= 114 {
				out = append(out, fmt.Sprintf("%d/%d %s", r.Block, r.Index, r.JSON))
			}
		}
		return out
	}
	// The example's own window and rule have no results by 114; the small
	// ones must have some.
	for table, some := range map[string]bool{"transfers_per_100_blocks": false, "repeat_recipient": false,
		"per_4_blocks": true, "per_36s": true, "token_again": true} {
		got, want := rows(out, table), rows(back, table)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the live run wrote\n%s\nthe backfill\n%s", table, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if some && len(want) == 0 {
			t.Errorf("%s: no results to compare", table)
		}
	}
}

// TestPipelineSolana: spl-transfers through the CLI on the Solana slot
// equals the independent reference, row for row.
func TestPipelineSolana(t *testing.T) {
	fx := fixtures(t)
	dir := t.TempDir()
	csv := filepath.Join(fx, "solana/slot-138802069/instructions.csv")
	mustIPDM(t, "pipeline", "run", "../examples/spl-transfers/ipdm.yaml", "--repo", filepath.Join(dir, "norepo"), "--local",
		"--source", "file:"+csv, "--sink", "jsonl:"+filepath.Join(dir, "spl.jsonl"))
	f, err := os.Open(csv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ins, err := source.DecodeInstructionsCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := reference.SPLTransfers(ins)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range rows {
		j, _ := json.Marshal(r)
		want = append(want, string(j))
	}
	if got := readLines(t, filepath.Join(dir, "spl.jsonl")); !slices.Equal(got, want) {
		t.Fatalf("%d rows, reference %d", len(got), len(want))
	}
}
