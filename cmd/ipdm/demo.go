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
	fmt.Fprintf(out, "\ndemo finished in %s\n", time.Since(t0).Round(time.Millisecond))
	return net.Stop()
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
