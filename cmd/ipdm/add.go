package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipfs/boxo/files"
	"github.com/schollz/progressbar/v3"

	"github.com/ipdm/ipdm/api"
)

func cmdAdd(ctx context.Context, e env) error {
	f := newFlags("add", e)
	recursive := f.Bool("r", false, "add a directory recursively")
	quiet := f.Bool("Q", false, "print only the root CID")
	hidden := f.Bool("hidden", false, "include dot-files when adding a directory")
	pin := f.Bool("pin", true, "pin the root")
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("add takes one PATH (or - for stdin)")
	}
	path := args[0]
	var nd files.Node
	var name string
	var size int64 = -1
	if path == "-" {
		nd, name = files.NewReaderFile(e.stdin), ""
	} else {
		st, err := os.Lstat(path)
		if err != nil {
			return fmt.Errorf("add: %w", err)
		}
		if st.IsDir() && !*recursive {
			return usagef("%s is a directory: use add -r", path)
		}
		if nd, err = files.NewSerialFile(path, *hidden, st); err != nil {
			return fmt.Errorf("add: %w", err)
		}
		name = filepath.Base(path)
		if s, err := nd.Size(); err == nil {
			size = s
		}
	}
	defer nd.Close()
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	opts := api.AddOptions{Pin: *pin, Hidden: *hidden}
	var bar *progressbar.ProgressBar
	if isTerminal(e.stderr) && size > 1<<20 {
		bar = progressbar.DefaultBytes(size, "adding")
		opts.Progress = func(n int64) { bar.Set64(min(n, size)) }
	}
	res, err := b.Add(ctx, name, nd, opts)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	switch {
	case f.json:
		return printJSON(e.stdout, res)
	case *quiet:
		fmt.Fprintln(e.stdout, res.CID)
	default:
		fmt.Fprintf(e.stdout, "added %s %s\n", res.CID, name)
	}
	return nil
}
