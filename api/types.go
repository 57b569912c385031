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

// Job describes a job this node coordinates.
type Job struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"`
	Module   string `json:"module"`
	Replicas int    `json:"replicas"`
	Quorum   int    `json:"quorum"`
	// Result is the CID of the accepted result directory.
	Result string `json:"result,omitempty"`
	// ExitCode and Stdout are read from the accepted result (stdout inline
	// up to 64 KiB).
	ExitCode *uint32 `json:"exit_code,omitempty"`
	Stdout   string  `json:"stdout,omitempty"`
	// PinnedOn lists the nodes that pinned the result (publisher.pin_on).
	PinnedOn   []string       `json:"pinned_on,omitempty"`
	Agreeing   []string       `json:"agreeing,omitempty"`
	Dissenting []string       `json:"dissenting,omitempty"`
	Executions []JobExecution `json:"executions"`
	History    []JobEvent     `json:"history,omitempty"`
	Created    time.Time      `json:"created"`
	Updated    time.Time      `json:"updated"`
}

// JobExecution is one node's run of a job.
type JobExecution struct {
	Node    string `json:"node"`
	State   string `json:"state"`
	Attempt int    `json:"attempt"`
	Result  string `json:"result,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Reputation and Quarantined are the coordinator's current view of the
	// node (see NodeReputation).
	Reputation  float64 `json:"reputation"`
	Quarantined bool    `json:"quarantined,omitempty"`
}

// JobLogEntry is one line of a job's log stream (GET /jobs/{id}/logs,
// newline-delimited JSON): a history event, a chunk of an executor's live
// output or of the accepted result's stdout or stderr, or the end of the
// log.
type JobLogEntry struct {
	// Kind is "event", "stdout", "stderr" or "end".
	Kind string    `json:"kind"`
	At   time.Time `json:"at,omitzero"`
	// Event is the history entry (kind "event").
	Event *JobEvent `json:"event,omitempty"`
	// Data is a chunk of output (kinds "stdout" and "stderr"), at most
	// JobLogChunk bytes.
	Data []byte `json:"data,omitempty"`
	// Node is set on live output (kinds "stdout" and "stderr" while the
	// job runs, with follow): the executor whose module wrote Data, which
	// starts at byte Offset of that execution's stream (a gap from the
	// previous chunk's end means bytes were dropped: the executor keeps
	// the last MiB). Output without Node is the accepted result's.
	Node   string `json:"node,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	// State and Reason are the job's final state (kind "end").
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// JobLogChunk bounds the output carried by one JobLogEntry.
const JobLogChunk = 32 << 10

// NodeReputation is a coordinator's view of one executor: a score from
// its agreements, disagreements (lies) and failures, decayed over time, and
// its quarantine. Quarantined nodes get no jobs from this coordinator.
type NodeReputation struct {
	Node string `json:"node"`
	// Score is in (0, 1): 0.5 for a node never judged.
	Score         float64 `json:"score"`
	Agreements    float64 `json:"agreements"`
	Disagreements float64 `json:"disagreements"`
	Failures      float64 `json:"failures"`
	Quarantined   bool    `json:"quarantined"`
	// QuarantinedUntil is when the current or last quarantine ends; absent
	// for a node never quarantined. Quarantines counts them.
	QuarantinedUntil *time.Time `json:"quarantined_until,omitempty"`
	Quarantines      int        `json:"quarantines,omitempty"`
	// Peer says whether the node is in this node's capability index now.
	Peer bool `json:"peer"`
}

// Providers answers a DHT provider lookup.
type Providers struct {
	CID       string   `json:"cid"`
	Providers []string `json:"providers"`
}

// JobEvent is one entry of a job's history: what happened and why.
type JobEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Node   string    `json:"node,omitempty"`
	Detail string    `json:"detail,omitempty"`
}
