package main

import (
	"context"
	"fmt"
)

func cmdPin(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		return usagef("pin needs add, rm or ls")
	}
	sub := e.args[0]
	f := newFlags("pin "+sub, e)
	direct := f.Bool("direct", false, "pin only the root block (pin add)")
	args, err := f.parse(e.args[1:])
	if err != nil {
		return err
	}
	switch sub {
	case "add", "rm":
		if len(args) != 1 {
			return usagef("pin %s takes one CID", sub)
		}
		if _, err := parseCID(args[0]); err != nil {
			return err
		}
	case "ls":
		if len(args) != 0 {
			return usagef("pin ls takes no arguments")
		}
	default:
		return usagef("unknown pin command %q (want add, rm or ls)", sub)
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "add":
		p, err := b.PinAdd(ctx, args[0], !*direct, f.timeout)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, p)
		}
		fmt.Fprintf(e.stdout, "pinned %s %s\n", p.CID, p.Type)
	case "rm":
		if err := b.PinRm(ctx, args[0]); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, map[string]string{"cid": args[0]})
		}
		fmt.Fprintf(e.stdout, "unpinned %s\n", args[0])
	case "ls":
		pins, err := b.PinLs(ctx)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, pins)
		}
		for _, p := range pins {
			fmt.Fprintf(e.stdout, "%s %s\n", p.CID, p.Type)
		}
	}
	return nil
}

func cmdRepo(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		return usagef("repo needs gc, stat or verify")
	}
	sub := e.args[0]
	f := newFlags("repo "+sub, e)
	args, err := f.parse(e.args[1:])
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return usagef("repo %s takes no arguments", sub)
	}
	switch sub {
	case "gc", "stat", "verify":
	default:
		return usagef("unknown repo command %q (want gc, stat or verify)", sub)
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "gc":
		res, err := b.GC(ctx)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, res)
		}
		fmt.Fprintf(e.stdout, "removed %d blocks (%d bytes)\n", res.Removed, res.Bytes)
	case "stat":
		res, err := b.RepoStat(ctx)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, res)
		}
		fmt.Fprintf(e.stdout, "repo: %s\nblocks: %d\nbytes: %d\nmax bytes: %d\npins: %d\n", res.Path, res.Blocks, res.Bytes, res.MaxBytes, res.Pins)
	case "verify":
		res, err := b.RepoVerify(ctx)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, res)
		}
		fmt.Fprintf(e.stdout, "checked %d blocks, %d corrupt\n", res.Checked, len(res.Corrupt))
		for _, c := range res.Corrupt {
			fmt.Fprintf(e.stdout, "corrupt (quarantined): %s\n", c)
		}
		if len(res.Corrupt) > 0 {
			return fmt.Errorf("%d corrupt blocks were moved to quarantine", len(res.Corrupt))
		}
	}
	return nil
}
