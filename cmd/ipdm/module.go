package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/ipdm/ipdm/api"
)

func cmdModule(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		return usagef("module needs add, ls or show")
	}
	sub := e.args[0]
	f := newFlags("module "+sub, e)
	name := f.String("name", "", "registry name (with --version): publish a signed name@version record")
	version := f.String("version", "", "registry version (with --name)")
	args, err := f.parse(e.args[1:])
	if err != nil {
		return err
	}
	switch {
	case sub == "add" && len(args) == 1:
		if (*name == "") != (*version == "") {
			return usagef("--name and --version go together")
		}
	case sub == "ls" && len(args) == 0:
	case sub == "show" && len(args) == 1:
	default:
		return usagef("want 'module add FILE.wasm', 'module ls' or 'module show REF'")
	}
	var data []byte
	if sub == "add" {
		if data, err = os.ReadFile(args[0]); err != nil {
			return fmt.Errorf("module add: %w", err)
		}
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "add":
		m, err := b.ModuleAdd(ctx, data, *name, *version)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, m)
		}
		printModule(e, m)
		if m.Name != "" {
			fmt.Fprintf(e.stdout, "published %s@%s (announced to %d peers)\n", m.Name, m.Version, m.Announced)
		}
	case "ls":
		ms, err := b.ModuleList(ctx)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, ms)
		}
		for _, m := range ms {
			fmt.Fprintf(e.stdout, "%s@%s %s %d bytes publisher %s\n", m.Name, m.Version, m.CID, m.Size, m.Publisher)
		}
	case "show":
		m, err := b.ModuleShow(ctx, args[0])
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, m)
		}
		printModule(e, m)
	}
	return nil
}

func printModule(e env, m api.Module) {
	if m.Name != "" {
		fmt.Fprintf(e.stdout, "name: %s@%s\npublisher: %s\n", m.Name, m.Version, m.Publisher)
	}
	fmt.Fprintf(e.stdout, "cid: %s\nsize: %d bytes\nmemory: %d..%d pages\nimports: %s\nexports: %s\n",
		m.CID, m.Size, m.MemoryMinPages, m.MemoryMaxPages, strings.Join(m.Imports, " "), strings.Join(m.Exports, " "))
}
