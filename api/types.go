package api

import "time"

// Version prefixes every API route.
const Version = "/api/v1"

// AddResult is the answer to an add.
type AddResult struct {
	CID  string `json:"cid"`
	Name string `json:"name,omitempty"`
	// Bytes is the number of content bytes read from the upload.
	Bytes int64 `json:"bytes"`
}

// Pin is one pinned root.
type Pin struct {
	CID  string `json:"cid"`
	Type string `json:"type"` // "recursive" or "direct"
}

// GCResult reports one garbage collection.
type GCResult struct {
	Removed int   `json:"removed"`
	Bytes   int64 `json:"bytes"`
}

// ImportResult reports one CAR import.
type ImportResult struct {
	Roots  []string `json:"roots"`
	Blocks int      `json:"blocks"`
	Bytes  int64    `json:"bytes"`
	Pinned bool     `json:"pinned"`
}

// BlockStat describes one block.
type BlockStat struct {
	CID  string `json:"cid"`
	Size int    `json:"size"`
}

// Identity describes the node.
type Identity struct {
	ID           string   `json:"id"`
	PublicKey    string   `json:"public_key"`
	Addresses    []string `json:"addresses"`
	AgentVersion string   `json:"agent_version"`
	Online       bool     `json:"online"`
}

// SwarmPeer is one connected libp2p peer.
type SwarmPeer struct {
	ID        string  `json:"id"`
	Addr      string  `json:"addr"`
	LatencyMS float64 `json:"latency_ms,omitempty"`
}

// PeerCapability is one entry of the live capability index: what a peer
// advertised and when it was last heard.
type PeerCapability struct {
	ID            string    `json:"id"`
	Roles         []string  `json:"roles"`
	Cores         int       `json:"cores"`
	MemoryBytes   uint64    `json:"memory_bytes"`
	FreeDiskBytes uint64    `json:"free_disk_bytes"`
	Version       string    `json:"version"`
	Addrs         []string  `json:"addrs"`
	Connected     bool      `json:"connected"`
	Self          bool      `json:"self"` // this node's own advert
	LastSeen      time.Time `json:"last_seen"`
}

// RepoStat describes the node's storage.
type RepoStat struct {
	Path     string `json:"path"`
	Blocks   int64  `json:"blocks"`
	Bytes    int64  `json:"bytes"`
	MaxBytes int64  `json:"max_bytes"`
	Pins     int    `json:"pins"`
}

// VerifyResult reports a full scan of the block store.
type VerifyResult struct {
	Checked int      `json:"checked"`
	Corrupt []string `json:"corrupt"`
}

// ConnectRequest is the body of POST /api/v1/swarm/connect.
type ConnectRequest struct {
	Addr string `json:"addr"`
}

// Error is the body of every non-2xx JSON answer.
type Error struct {
	Message string `json:"error"`
	Hint    string `json:"hint,omitempty"`
}

// Module describes a validated Wasm module and, when it has one, its
// registry name.
type Module struct {
	CID            string   `json:"cid"`
	Name           string   `json:"name,omitempty"`
	Version        string   `json:"version,omitempty"`
	Publisher      string   `json:"publisher,omitempty"`
	Size           int64    `json:"size"`
	Imports        []string `json:"imports,omitempty"`
	Exports        []string `json:"exports,omitempty"`
	MemoryMinPages uint32   `json:"memory_min_pages,omitempty"`
	MemoryMaxPages uint32   `json:"memory_max_pages,omitempty"`
	// Announced is how many peers acknowledged the new record (add only).
	Announced int `json:"announced,omitempty"`
}
