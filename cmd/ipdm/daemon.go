package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ipdm/ipdm/node"
	"github.com/ipdm/ipdm/repo"
)

func parseDuration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, usagef("%s %q: want a positive duration like 30s", name, s)
	}
	return d, nil
}

func cmdDaemon(ctx context.Context, e env) error {
	f := newFlags("daemon", e)
	var cf configFlags
	cf.register(f)
	initIfMissing := f.Bool("init", false, "initialize the repo first when it does not exist")
	fault := f.String("fault", "", "TEST ONLY: 'lie' makes this node report wrong job results, to watch detection work; 'hide-inputs' makes its bids never claim local inputs (so locality comes from DHT provider records only)")
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usagef("daemon takes no arguments")
	}
	log, err := f.logger(e.stderr)
	if err != nil {
		return err
	}
	path, err := f.repoPath()
	if err != nil {
		return err
	}
	if *initIfMissing && !repo.Exists(path) {
		if err := repo.Init(path, repo.InitOptions{}); err != nil {
			return err
		}
	}
	r, err := repo.Open(path)
	if err != nil {
		return err
	}
	cfg := r.Config()
	if err := cf.apply(&cfg); err != nil {
		r.Close()
		return err
	}
	n, err := node.New(ctx, r, node.Options{Online: true, Config: &cfg, Logger: log, Fault: *fault})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	id, _ := n.ID(ctx)
	fmt.Fprintf(e.stdout, "ipdm daemon ready\npeer: %s\napi: %s\ngateway: %s\n", id.ID, n.APIAddr(), n.GatewayAddr())
	for _, a := range id.Addresses {
		fmt.Fprintf(e.stdout, "listening: %s\n", a)
	}
	<-ctx.Done()
	log.Info("shutting down")
	if err := n.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(e.stdout, "ipdm daemon stopped")
	return nil
}
