package repo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Roles a node can take. A node advertises them to its peers.
const (
	RoleStorage    = "storage"
	RoleGateway    = "gateway"
	RoleProcessing = "processing"
)

// Config is the node configuration read from config.yaml. The zero value of
// every field means "use the default"; Defaults fills them in.
type Config struct {
	// Listen holds the libp2p listen multiaddrs.
	// Default: TCP and QUIC on every interface, port 4101.
	Listen []string `yaml:"listen"`
	// Bootstrap holds multiaddrs (ending in /p2p/PEERID) dialled at start.
	Bootstrap []string `yaml:"bootstrap"`
	// API is the host:port of the admin HTTP API. Default 127.0.0.1:5101.
	// Port 0 picks a free port; the chosen address is written to the api file.
	API string `yaml:"api"`
	// Gateway is the host:port of the read-only trustless gateway.
	// Default 127.0.0.1:8180. Port 0 picks a free port.
	Gateway string `yaml:"gateway"`
	// MDNS turns LAN peer discovery on or off. Default on.
	MDNS *bool `yaml:"mdns"`
	// Roles this node offers: storage, gateway, processing. Default all three.
	Roles []string `yaml:"roles"`
	// StorageMaxBytes caps the block store; adds that would pass it fail.
	// Default 0 = no cap.
	StorageMaxBytes int64 `yaml:"storage_max_bytes"`
	// AdvertInterval is how often the node re-publishes its capability
	// advert. Default 10s.
	AdvertInterval time.Duration `yaml:"advert_interval"`
	// FetchTimeout bounds how long the gateway waits for a block nobody
	// provides. Default 60s.
	FetchTimeout time.Duration `yaml:"fetch_timeout"`
	// Labels describe this node to job schedulers (e.g. region: eu); jobs
	// whose constraints name labels run only on nodes that have them all.
	Labels map[string]string `yaml:"labels"`
	// BidWindow is how long a coordinator collects bids before it assigns
	// a job's executions. Default 500ms.
	BidWindow time.Duration `yaml:"bid_window"`
}

// Default values.
const (
	DefaultAPI            = "127.0.0.1:5101"
	DefaultGateway        = "127.0.0.1:8180"
	DefaultAdvertInterval = 10 * time.Second
	DefaultFetchTimeout   = 60 * time.Second
	DefaultBidWindow      = 500 * time.Millisecond
)

// DefaultListen is used when Config.Listen is empty.
var DefaultListen = []string{"/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1"}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if len(c.Listen) == 0 {
		c.Listen = append([]string(nil), DefaultListen...)
	}
	if c.API == "" {
		c.API = DefaultAPI
	}
	if c.Gateway == "" {
		c.Gateway = DefaultGateway
	}
	if c.MDNS == nil {
		on := true
		c.MDNS = &on
	}
	if len(c.Roles) == 0 {
		c.Roles = []string{RoleStorage, RoleGateway, RoleProcessing}
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = DefaultAdvertInterval
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.BidWindow == 0 {
		c.BidWindow = DefaultBidWindow
	}
	return c
}

// MDNSEnabled reports whether mDNS discovery is on (default true).
func (c Config) MDNSEnabled() bool { return c.MDNS == nil || *c.MDNS }

// Validate reports every problem with c at once, one per line.
func (c Config) Validate() error {
	var errs []error
	for _, a := range c.Listen {
		if !strings.HasPrefix(a, "/") {
			errs = append(errs, fmt.Errorf("listen: %q is not a multiaddr (want e.g. /ip4/0.0.0.0/tcp/4101)", a))
		}
	}
	for _, a := range c.Bootstrap {
		if !strings.HasPrefix(a, "/") || !strings.Contains(a, "/p2p/") {
			errs = append(errs, fmt.Errorf("bootstrap: %q must be a multiaddr ending in /p2p/PEERID", a))
		}
	}
	for name, hp := range map[string]string{"api": c.API, "gateway": c.Gateway} {
		if hp == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(hp); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, hp))
		}
	}
	for _, r := range c.Roles {
		switch r {
		case RoleStorage, RoleGateway, RoleProcessing:
		default:
			errs = append(errs, fmt.Errorf("roles: unknown role %q (want storage, gateway or processing)", r))
		}
	}
	if c.StorageMaxBytes < 0 {
		errs = append(errs, errors.New("storage_max_bytes: must not be negative"))
	}
	if c.AdvertInterval < 0 {
		errs = append(errs, errors.New("advert_interval: must not be negative"))
	}
	for k, v := range c.Labels {
		if k == "" || strings.ContainsAny(k, "= \t\n") || len(k) > 64 || len(v) > 256 {
			errs = append(errs, fmt.Errorf("labels: %q=%q: want a key without '=' or spaces (at most 64 bytes) and a value of at most 256", k, v))
		}
	}
	if c.BidWindow < 0 {
		errs = append(errs, errors.New("bid_window: must not be negative"))
	}
	if c.FetchTimeout < 0 {
		errs = append(errs, errors.New("fetch_timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

// ParseConfig decodes a config file strictly: unknown keys are errors, so a
// typo does not silently fall back to a default.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// configTemplate is written by Init. Every field is documented in place.
const configTemplate = `# IPDM node configuration. Every key is optional; a missing key takes the
# default shown. Command-line flags of 'ipdm daemon' override these values.

# libp2p listen multiaddrs (TCP and QUIC). Port 0 picks a free port.
listen:
{{listen}}
# Peers dialled at start, as multiaddrs ending in /p2p/PEERID.
bootstrap: {{bootstrap}}

# Admin HTTP API (used by the CLI). Keep it on loopback: it can add and delete data.
api: "{{api}}"

# Read-only trustless gateway (/ipfs/CID, raw blocks and CAR), safe to expose.
gateway: "{{gateway}}"

# LAN peer discovery with mDNS.
mdns: {{mdns}}

# Roles this node offers its peers: storage, gateway, processing.
roles: [{{roles}}]

# Cap on stored bytes; 0 means no cap.
storage_max_bytes: {{maxbytes}}

# How often the capability advert (roles, cores, memory, free disk) is re-published.
advert_interval: {{advert}}

# How long the gateway and API wait for a block before giving up with a timeout error.
fetch_timeout: {{fetch}}

# Labels that job constraints can select this node by, e.g. {region: eu}.
labels: {{labels}}

# How long a coordinator collects bids before assigning a job's executions.
bid_window: {{bidwindow}}
`

// Render writes c (with defaults applied) as a commented config file.
func (c Config) Render() []byte {
	d := c.WithDefaults()
	var listen strings.Builder
	for _, a := range d.Listen {
		fmt.Fprintf(&listen, "  - %q\n", a)
	}
	quoted := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = fmt.Sprintf("%q", s)
		}
		return strings.Join(q, ", ")
	}
	r := strings.NewReplacer(
		"{{listen}}", strings.TrimSuffix(listen.String(), "\n"),
		"{{bootstrap}}", "["+quoted(d.Bootstrap)+"]",
		"{{api}}", d.API,
		"{{gateway}}", d.Gateway,
		"{{mdns}}", fmt.Sprint(d.MDNSEnabled()),
		"{{roles}}", quoted(d.Roles),
		"{{maxbytes}}", fmt.Sprint(d.StorageMaxBytes),
		"{{advert}}", d.AdvertInterval.String(),
		"{{fetch}}", d.FetchTimeout.String(),
		"{{bidwindow}}", d.BidWindow.String(),
		"{{labels}}", renderLabels(d.Labels),
	)
	return []byte(r.Replace(configTemplate))
}

// renderLabels writes labels as a YAML flow mapping, keys sorted.
func renderLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%q: %q", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
