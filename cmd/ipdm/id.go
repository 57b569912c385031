package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

func cmdID(ctx context.Context, e env) error {
	f := newFlags("id", e)
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return usagef("id takes no arguments")
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	id, err := b.ID(ctx)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, id)
	}
	state := "offline (no daemon running)"
	if id.Online {
		state = "online"
	}
	fmt.Fprintf(e.stdout, "peer: %s\nagent: %s\nstate: %s\n", id.ID, id.AgentVersion, state)
	for _, a := range id.Addresses {
		fmt.Fprintf(e.stdout, "address: %s\n", a)
	}
	return nil
}

func cmdSwarm(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		return usagef("swarm needs connect or peers")
	}
	sub := e.args[0]
	f := newFlags("swarm "+sub, e)
	args, err := f.parse(e.args[1:])
	if err != nil {
		return err
	}
	switch {
	case sub == "connect" && len(args) == 1:
	case sub == "peers" && len(args) == 0:
	default:
		return usagef("want 'swarm connect MULTIADDR' or 'swarm peers'")
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if sub == "connect" {
		if err := b.SwarmConnect(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "connected %s\n", args[0])
		return nil
	}
	peers, err := b.SwarmPeers(ctx)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, peers)
	}
	for _, p := range peers {
		fmt.Fprintf(e.stdout, "%s/p2p/%s\n", p.Addr, p.ID)
	}
	return nil
}

func cmdPeers(ctx context.Context, e env) error {
	f := newFlags("peers", e)
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return usagef("peers takes no arguments")
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	peers, err := b.Peers(ctx)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, peers)
	}
	fmt.Fprintf(e.stdout, "%-54s %-28s %5s %9s %10s %-9s %s\n", "PEER", "ROLES", "CORES", "MEMORY", "FREE DISK", "LINK", "SEEN")
	for _, p := range peers {
		link := "indirect"
		switch {
		case p.Self:
			link = "self"
		case p.Connected:
			link = "direct"
		}
		fmt.Fprintf(e.stdout, "%-54s %-28s %5d %9s %10s %-9s %s ago\n", p.ID, strings.Join(p.Roles, ","), p.Cores,
			humanBytes(p.MemoryBytes), humanBytes(p.FreeDiskBytes), link, time.Since(p.LastSeen).Round(time.Second))
	}
	return nil
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
