package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-car/v2"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/devnet"
	"github.com/ipdm/ipdm/examples/csvfilter-c/csvfilter"
	"github.com/ipdm/ipdm/verify"
)

// demoSize is the size of the sample file: 24 chunks of 1 MiB.
const demoSize = 24 << 20

func cmdDemo(ctx context.Context, e env) error {
	f := newFlags("demo", e)
	nodes := f.Int("nodes", 3, "network size")
	keep := f.Bool("keep", false, "keep the temporary folder")
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) != 0 || *nodes < 2 {
		return usagef("demo takes no arguments and needs --nodes >= 2")
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "ipdm-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(root)
	}
	out := e.stdout
	fmt.Fprintf(out, "IPDM demo: %d nodes on loopback, each a separate process (folder %s)\n\n", *nodes, root)

	t0 := time.Now()
	net, err := devnet.Start(ctx, devnet.Options{Binary: bin, Nodes: *nodes, Dir: root, FetchTimeout: 20 * time.Second})
	if err != nil {
		return err
	}
	defer net.Stop()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = net.WaitPeers(wctx, *nodes-1)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "network up in %s:\n", time.Since(t0).Round(time.Millisecond))
	for _, n := range net.Nodes {
		fmt.Fprintf(out, "  node%d %s  api %s  gateway %s\n", n.Index, n.PeerID, n.API, n.Gateway)
	}
	src, dst, gw := net.Nodes[0], net.Nodes[len(net.Nodes)-1], net.Nodes[len(net.Nodes)/2]

	// Sample data: a deterministic pseudo-random file, so the CID is the
	// same on every run and machine.
	data := make([]byte, demoSize)
	rng := rand.NewChaCha8([32]byte{'i', 'p', 'd', 'm'})
	rng.Read(data)
	want := sha256.Sum256(data)

	srcC, dstC := src.Client(), dst.Client()
	defer srcC.Close()
	defer dstC.Close()
	t1 := time.Now()
	added, err := srcC.Add(ctx, "sample.bin", files.NewBytesFile(data), api.AddOptions{Pin: true})
	if err != nil {
		return fmt.Errorf("add on node%d: %w", src.Index, err)
	}
	addDur := time.Since(t1)
	fmt.Fprintf(out, "\nadded %d MiB on node%d in %s\n  root CID %s (UnixFS, Kubo unixfs-v1-2025 profile)\n",
		demoSize>>20, src.Index, addDur.Round(time.Millisecond), added.CID)

	t2 := time.Now()
	rc, _, err := dstC.Cat(ctx, added.CID, 60*time.Second)
	if err != nil {
		return fmt.Errorf("cat on node%d: %w", dst.Index, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("cat on node%d: %w", dst.Index, err)
	}
	catDur := time.Since(t2)
	if n != demoSize || !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("node%d returned %d bytes with a different SHA-256: retrieval is broken", dst.Index, n)
	}
	fmt.Fprintf(out, "\nnode%d fetched it over bitswap in %s (%.0f MiB/s); SHA-256 matches\n",
		dst.Index, catDur.Round(time.Millisecond), float64(demoSize)/(1<<20)/catDur.Seconds())

	t3 := time.Now()
	nblocks, err := fetchCAR(ctx, gw.Gateway, added.CID)
	if err != nil {
		return fmt.Errorf("gateway of node%d: %w", gw.Index, err)
	}
	fmt.Fprintf(out, "\nnode%d's trustless gateway served it as a CAR in %s: %d blocks, each hash-verified\n",
		gw.Index, time.Since(t3).Round(time.Millisecond), nblocks)

	peers, err := dstC.Peers(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nnode%d's capability index (from gossipsub adverts):\n", dst.Index)
	for _, p := range peers {
		who := "peer"
		if p.Self {
			who = "self"
		}
		fmt.Fprintf(out, "  %s %s roles=%v cores=%d free disk %s\n", who, p.ID, p.Roles, p.Cores, humanBytes(p.FreeDiskBytes))
	}
	if err := demoJob(ctx, out, net); err != nil {
		return err
	}
	if err := demoPipeline(ctx, out, net); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndemo finished in %s\n", time.Since(t0).Round(time.Millisecond))
	return net.Stop()
}

// demoCSV is a deterministic table of token transfers for the demo job.
func demoCSV() []byte {
	var b bytes.Buffer
	b.WriteString("block,token,from,to,value\n")
	tokens := []string{"USDC", "WETH", "DAI", "USDT"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "%d,%s,0x%040x,0x%040x,%d\n", 17173049+i/100, tokens[rng.IntN(len(tokens))], rng.Uint64(), rng.Uint64(), rng.Uint64())
	}
	return b.Bytes()
}

// demoJob runs the csvfilter example on data stored on another node, on 3
// replicas, and shows the verified result and the receipts.
func demoJob(ctx context.Context, out io.Writer, net *devnet.Net) error {
	coord, holder := net.Nodes[0], net.Nodes[len(net.Nodes)-1]
	cc, hc := coord.Client(), holder.Client()
	defer cc.Close()
	defer hc.Close()
	in, err := hc.Add(ctx, "transfers.csv", files.NewBytesFile(demoCSV()), api.AddOptions{Pin: true})
	if err != nil {
		return fmt.Errorf("add job input on node%d: %w", holder.Index, err)
	}
	mod, err := cc.ModuleAdd(ctx, csvfilter.Module, "csvfilter", "1.0.0")
	if err != nil {
		return fmt.Errorf("publish module: %w", err)
	}
	fmt.Fprintf(out, "\nWasm job: csvfilter (C, %d KiB, published as csvfilter@1.0.0 = %s)\n", len(csvfilter.Module)>>10, mod.CID)
	fmt.Fprintf(out, "  input: %s (transfers.csv, stored on node%d only)\n", in.CID, holder.Index)
	spec := fmt.Sprintf(`{"apiVersion": "ipdm/v1", "kind": "Job", "module": "csvfilter@1.0.0",
  "inputs": [{"cid": %q, "name": "transfers.csv"}], "args": ["token", "USDC"], "replicas": 3}`, in.CID)
	t := time.Now()
	j, err := cc.JobSubmit(ctx, []byte(spec), true)
	if err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if j.State != "completed" {
		return fmt.Errorf("job %s %s: %s", j.ID, j.State, j.Reason)
	}
	took := time.Since(t)
	// The job is accepted once a quorum agrees; give the last reveal a
	// moment so the agreement line shows every replica.
	for deadline := time.Now().Add(3 * time.Second); len(j.Agreeing)+len(j.Dissenting) < j.Replicas && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if j, err = cc.JobDescribe(ctx, j.ID); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "  job %s %s in %s: %d replicas, quorum %d\n", j.ID, j.State, took.Round(time.Millisecond), j.Replicas, j.Quorum)
	fmt.Fprintf(out, "  verified result CID %s (exit code %d)\n", j.Result, deref(j.ExitCode))
	fmt.Fprintf(out, "  agreement: %d nodes agree, %d dissent\n", len(j.Agreeing), len(j.Dissenting))
	fmt.Fprintf(out, "  stdout: %s", j.Stdout)
	rs, err := cc.JobReceipts(ctx, j.ID)
	if err != nil {
		return err
	}
	for _, raw := range rs {
		r, err := verify.DecodeReceipt(raw)
		if err == nil {
			err = verify.Verify(r)
		}
		status := "signature valid"
		if err != nil {
			status = "INVALID: " + err.Error()
		}
		fmt.Fprintf(out, "  receipt from %s: result %s, fuel %d, %s\n", r.NodeID, r.ResultCID, r.FuelUsed, status)
	}
	return nil
}

func deref(p *uint32) uint32 {
	if p == nil {
		return 0
	}
	return *p
}

// fetchCAR gets /ipfs/{c}?format=car from a gateway and checks every block
// against its CID; it returns the number of blocks.
func fetchCAR(ctx context.Context, gateway, c string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+gateway+"/ipfs/"+c, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/vnd.ipld.car")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return 0, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	br, err := car.NewBlockReader(resp.Body)
	if err != nil {
		return 0, err
	}
	root, err := cid.Decode(c)
	if err != nil {
		return 0, err
	}
	if len(br.Roots) != 1 || !br.Roots[0].Equals(root) {
		return 0, fmt.Errorf("CAR roots %v, want %s", br.Roots, c)
	}
	n := 0
	for {
		b, err := br.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		got, err := b.Cid().Prefix().Sum(b.RawData())
		if err != nil || !got.Equals(b.Cid()) {
			return n, fmt.Errorf("block %s does not match its hash", b.Cid())
		}
		n++
	}
}
