package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipdm/ipdm/devnet"
)

func cmdDevnet(ctx context.Context, e env) error {
	f := newFlags("devnet", e)
	nodes := f.Int("nodes", 3, "number of nodes")
	dir := f.String("dir", "", "folder for the node repos (default: a temporary folder, removed at exit)")
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return usagef("devnet takes no arguments")
	}
	if *nodes < 1 || *nodes > 64 {
		return usagef("--nodes %d: want 1 to 64", *nodes)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	root := *dir
	if root == "" {
		if root, err = os.MkdirTemp("", "ipdm-devnet-"); err != nil {
			return err
		}
		defer os.RemoveAll(root)
	} else if root, err = filepath.Abs(root); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "starting %d nodes in %s ...\n", *nodes, root)
	net, err := devnet.Start(ctx, devnet.Options{Binary: bin, Nodes: *nodes, Dir: root})
	if err != nil {
		return err
	}
	defer net.Stop()
	for _, n := range net.Nodes {
		fmt.Fprintf(e.stdout, "node%d  peer %s\n       api http://%s   gateway http://%s\n       repo %s\n",
			n.Index, n.PeerID, n.API, n.Gateway, n.Repo)
	}
	fmt.Fprintf(e.stdout, "use a node from another shell: ipdm --repo %s id   (Ctrl-C stops all nodes)\n", net.Nodes[0].Repo)
	<-ctx.Done()
	fmt.Fprintln(e.stdout, "stopping ...")
	if err := net.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "all nodes stopped")
	return nil
}
