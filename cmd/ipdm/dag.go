package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func cmdDag(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		return usagef("dag needs export or import")
	}
	sub := e.args[0]
	f := newFlags("dag "+sub, e)
	pin := f.Bool("pin", true, "pin the roots of an imported CAR")
	args, err := f.parse(e.args[1:])
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("dag %s takes one argument", sub)
	}
	switch sub {
	case "export":
		if _, err := parseCID(args[0]); err != nil {
			return err
		}
		b, ctx, done, err := f.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		rc, err := b.DagExport(ctx, args[0], f.timeout)
		if err != nil {
			return fmt.Errorf("export %s: %w", args[0], err)
		}
		defer rc.Close()
		if _, err := io.Copy(e.stdout, rc); err != nil {
			return fmt.Errorf("export %s: %w", args[0], err)
		}
		return nil
	case "import":
		var in io.Reader = e.stdin
		if args[0] != "-" {
			file, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			defer file.Close()
			in = file
		}
		b, ctx, done, err := f.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		res, err := b.DagImport(ctx, in, *pin)
		if err != nil {
			return fmt.Errorf("import %s: %w", args[0], err)
		}
		if f.json {
			return printJSON(e.stdout, res)
		}
		for _, r := range res.Roots {
			state := "unpinned"
			if res.Pinned {
				state = "pinned"
			}
			fmt.Fprintf(e.stdout, "root %s %s\n", r, state)
		}
		fmt.Fprintf(e.stdout, "imported %d blocks (%d bytes)\n", res.Blocks, res.Bytes)
		return nil
	}
	return usagef("unknown dag command %q (want export or import)", sub)
}

func cmdBlock(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		return usagef("block needs get, put or stat")
	}
	sub := e.args[0]
	f := newFlags("block "+sub, e)
	codec := f.String("codec", "raw", "codec of a put block: raw, dag-pb or dag-cbor")
	args, err := f.parse(e.args[1:])
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("block %s takes one argument", sub)
	}
	switch sub {
	case "get", "stat":
		if _, err := parseCID(args[0]); err != nil {
			return err
		}
	case "put":
		if _, err := codecCode(*codec); err != nil {
			return err
		}
	default:
		return usagef("unknown block command %q (want get, put or stat)", sub)
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "get":
		data, err := b.BlockGet(ctx, args[0], f.timeout)
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(data)
		return err
	case "stat":
		st, err := b.BlockStat(ctx, args[0], f.timeout)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, st)
		}
		fmt.Fprintf(e.stdout, "Key: %s\nSize: %d\n", st.CID, st.Size)
		return nil
	}
	var in io.Reader = e.stdin
	if args[0] != "-" {
		file, err := os.Open(args[0])
		if err != nil {
			return fmt.Errorf("block put: %w", err)
		}
		defer file.Close()
		in = file
	}
	const maxBlock = 2 << 20
	data, err := io.ReadAll(io.LimitReader(in, maxBlock+1))
	if err != nil {
		return fmt.Errorf("block put: %w", err)
	}
	if len(data) > maxBlock {
		return fmt.Errorf("block put: input is larger than %d bytes, the largest block peers accept (use ipdm add)", maxBlock)
	}
	st, err := b.BlockPut(ctx, data, *codec)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, st)
	}
	fmt.Fprintln(e.stdout, st.CID)
	return nil
}
