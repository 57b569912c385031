package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/repo"
)

// configFlags are the config keys settable from the command line, shared by
// init (written to the file) and daemon (override for this run).
type configFlags struct {
	listen, bootstrap stringList
	api, gateway      string
	noMDNS            bool
	roles             stringList
	labels            stringList
	maxBytes          int64
	fetchTimeout      string
	advertInterval    string
}

func (c *configFlags) register(f *flags) {
	f.Var(&c.listen, "listen", "libp2p listen multiaddr (repeatable)")
	f.Var(&c.bootstrap, "bootstrap", "bootstrap peer multiaddr with /p2p/ID (repeatable)")
	f.StringVar(&c.api, "api", "", "admin API HOST:PORT (port 0 = any free port)")
	f.StringVar(&c.gateway, "gateway", "", "trustless gateway HOST:PORT (port 0 = any free port)")
	f.BoolVar(&c.noMDNS, "no-mdns", false, "turn off mDNS LAN discovery")
	f.Var(&c.roles, "role", "role offered: storage, gateway, processing (repeatable)")
	f.Var(&c.labels, "label", "label KEY=VALUE that job constraints can select this node by (repeatable)")
	f.Int64Var(&c.maxBytes, "storage-max-bytes", 0, "cap on stored bytes (0 = no cap)")
	f.StringVar(&c.fetchTimeout, "fetch-timeout", "", "how long to wait for a block nobody provides (e.g. 30s)")
	f.StringVar(&c.advertInterval, "advert-interval", "", "how often to re-publish the capability advert (e.g. 10s)")
}

// apply overrides cfg with the flags that were given.
func (c *configFlags) apply(cfg *repo.Config) error {
	if len(c.listen) > 0 {
		cfg.Listen = c.listen
	}
	if len(c.bootstrap) > 0 {
		cfg.Bootstrap = c.bootstrap
	}
	if c.api != "" {
		cfg.API = c.api
	}
	if c.gateway != "" {
		cfg.Gateway = c.gateway
	}
	if c.noMDNS {
		off := false
		cfg.MDNS = &off
	}
	if len(c.roles) > 0 {
		cfg.Roles = c.roles
	}
	if len(c.labels) > 0 {
		cfg.Labels = map[string]string{}
		for _, kv := range c.labels {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return usagef("--label %q: want KEY=VALUE", kv)
			}
			cfg.Labels[k] = v
		}
	}
	if c.maxBytes != 0 {
		cfg.StorageMaxBytes = c.maxBytes
	}
	if c.fetchTimeout != "" {
		d, err := parseDuration("--fetch-timeout", c.fetchTimeout)
		if err != nil {
			return err
		}
		cfg.FetchTimeout = d
	}
	if c.advertInterval != "" {
		d, err := parseDuration("--advert-interval", c.advertInterval)
		if err != nil {
			return err
		}
		cfg.AdvertInterval = d
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

func cmdInit(ctx context.Context, e env) error {
	f := newFlags("init", e)
	var cf configFlags
	cf.register(f)
	args, err := f.parse(e.args)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usagef("init takes no arguments")
	}
	path, err := f.repoPath()
	if err != nil {
		return err
	}
	var cfg repo.Config
	if err := cf.apply(&cfg); err != nil {
		return err
	}
	if err := repo.Init(path, repo.InitOptions{Config: cfg}); err != nil {
		return err
	}
	key, err := repo.ReadIdentity(path)
	if err != nil {
		return err
	}
	id, err := p2p.PeerIDFromKey(key)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, map[string]string{"id": id, "repo": path})
	}
	fmt.Fprintf(e.stdout, "initialized IPDM repo at %s\npeer identity: %s\nnext: ipdm daemon --repo %s\n", path, id, path)
	return nil
}
