package main

import (
	"context"
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"
)

func cmdCat(ctx context.Context, e env) error {
	f := newFlags("cat", e)
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("cat takes one CID")
	}
	if _, err := parseCID(args[0]); err != nil {
		return err
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	rc, _, err := b.Cat(ctx, args[0], f.timeout)
	if err != nil {
		return fmt.Errorf("cat %s: %w", args[0], err)
	}
	defer rc.Close()
	if _, err := io.Copy(e.stdout, rc); err != nil {
		return fmt.Errorf("cat %s: %w", args[0], err)
	}
	return nil
}

func cmdGet(ctx context.Context, e env) error {
	f := newFlags("get", e)
	out := f.String("o", "", "output path (default: the CID)")
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("get takes one CID")
	}
	if _, err := parseCID(args[0]); err != nil {
		return err
	}
	if *out == "" {
		*out = args[0]
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	var bar *progressbar.ProgressBar
	var total, progress func(int64)
	if isTerminal(e.stderr) {
		total = func(n int64) {
			if n > 1<<20 {
				bar = progressbar.DefaultBytes(n, "getting")
			}
		}
		progress = func(n int64) {
			if bar != nil {
				bar.Set64(n)
			}
		}
	}
	err = b.GetTo(ctx, args[0], f.timeout, *out, total, progress)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", args[0], err)
	}
	if !f.json {
		fmt.Fprintf(e.stdout, "saved %s to %s\n", args[0], *out)
		return nil
	}
	return printJSON(e.stdout, map[string]string{"cid": args[0], "path": *out})
}
