package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/gateway"
	"github.com/ipdm/ipdm/jobs/execute"
	"github.com/ipdm/ipdm/jobs/service"
	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/pipeline/engine"
	"github.com/ipdm/ipdm/storage/unixfs"
	"github.com/ipdm/ipdm/verify"
)

// maxSegmentFile bounds one file a segment job reads (blocks, outputs,
// snapshots): larger ones are refused rather than read into memory.
const maxSegmentFile = 1 << 30

// segmentFiles gives pipeline segment jobs this node's content.
type segmentFiles struct {
	n *Node
	// from is a peer likely to hold the files (the job's coordinator,
	// which stored the segment's data): a file missing here is first
	// fetched from it whole with p2p.ProtoDAG, in one round trip, before
	// the ordinary bitswap read gets whatever is still missing.
	from string
}

func (f segmentFiles) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	if has, err := f.n.blocks.Has(ctx, c); err == nil && !has && f.from != "" && f.n.host != nil {
		if _, err := f.n.host.FetchDAG(ctx, f.from, c, maxSegmentFile); err != nil {
			f.n.log.Debug("segment input: direct fetch failed, using bitswap", "cid", c, "from", f.from, "err", err)
		}
	}
	r, err := unixfs.Open(ctx, f.n.dag, c)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Size() > maxSegmentFile {
		return nil, fmt.Errorf("%s: %d bytes exceed the limit of %d", c, r.Size(), maxSegmentFile)
	}
	return io.ReadAll(r)
}

func (f segmentFiles) PutDir(ctx context.Context, fs map[string][]byte) (cid.Cid, error) {
	entries := make(map[string]files.Node, len(fs))
	for name, data := range fs {
		entries[name] = files.NewBytesFile(data)
	}
	res, err := f.n.Add(ctx, files.NewMapDirectory(entries), gateway.AddOptions{})
	if err != nil {
		return cid.Undef, err
	}
	return cid.Decode(res.CID)
}

// runSegment is the executor side of spec.RunnerSegment jobs.
func (n *Node) runSegment(ctx context.Context, sp spec.Spec, run service.RunInfo) (execute.Outcome, error) {
	return engine.ExecuteTask(ctx, n.wasm, segmentFiles{n: n, from: run.Coordinator}, &n.plans, sp, run.Lie)
}

// protoSegmentCache asks a peer for a segment output it knows.
const protoSegmentCache = "/ipdm/pipeline/cache/1.0.0"

// segmentCacheTimeout bounds asking peers for a segment output.
const segmentCacheTimeout = 2 * time.Second

func segmentCacheKey(identity, segment string) ds.Key {
	return ds.NewKey("/pipeline/cache/" + identity + "/" + segment)
}

func checkSegmentRecord(rec api.SegmentCacheRecord) error {
	if _, err := cid.Decode(rec.Identity); err != nil {
		return gateway.BadRequest(fmt.Errorf("segment cache: identity %q: %w", rec.Identity, err))
	}
	var a, b uint64
	if n, err := fmt.Sscanf(rec.Segment, "%d-%d", &a, &b); n != 2 || err != nil || b < a || fmt.Sprintf("%d-%d", a, b) != rec.Segment {
		return gateway.BadRequest(fmt.Errorf("segment cache: segment %q is not START-END", rec.Segment))
	}
	if _, err := cid.Decode(rec.Output); err != nil {
		return gateway.BadRequest(fmt.Errorf("segment cache: output %q: %w", rec.Output, err))
	}
	if rec.Result != "" {
		if _, err := cid.Decode(rec.Result); err != nil {
			return gateway.BadRequest(fmt.Errorf("segment cache: result %q: %w", rec.Result, err))
		}
	}
	if len(rec.Receipts) > api.MaxSegmentReceipts {
		return gateway.BadRequest(fmt.Errorf("segment cache: %d receipts, at most %d", len(rec.Receipts), api.MaxSegmentReceipts))
	}
	for i, raw := range rec.Receipts {
		if _, err := verify.DecodeReceipt(raw); err != nil {
			return gateway.BadRequest(fmt.Errorf("segment cache: receipt %d: %w", i, err))
		}
	}
	return nil
}

// SegmentCachePut records where a segment output is stored. The output
// itself must already be stored (pinned) on this node.
func (n *Node) SegmentCachePut(ctx context.Context, rec api.SegmentCacheRecord) error {
	if err := checkSegmentRecord(rec); err != nil {
		return err
	}
	if rec.Node == "" && n.host != nil {
		rec.Node = n.host.ID()
	}
	data, _ := json.Marshal(rec)
	if err := n.meta.Put(ctx, segmentCacheKey(rec.Identity, rec.Segment), data); err != nil {
		return fmt.Errorf("segment cache: %w", err)
	}
	return nil
}

// SegmentCacheGet returns the record of a segment output: this node's, or
// else the first a peer of the capability index answers with (remembered
// here). The output's bytes carry their own digest chain, which the
// reader checks; a record says where to fetch them.
func (n *Node) SegmentCacheGet(ctx context.Context, identity, segment string) (api.SegmentCacheRecord, error) {
	rec := api.SegmentCacheRecord{Identity: identity, Segment: segment}
	if err := checkSegmentRecord(api.SegmentCacheRecord{Identity: identity, Segment: segment, Output: identity}); err != nil {
		return rec, err
	}
	if got, ok, err := n.localSegment(ctx, identity, segment); err != nil || ok {
		return got, err
	}
	if n.host == nil {
		return rec, fmt.Errorf("segment %s of %s: %w", segment, identity, gateway.ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, segmentCacheTimeout)
	defer cancel()
	found := make(chan api.SegmentCacheRecord, 1)
	var wg sync.WaitGroup
	req, _ := json.Marshal(api.SegmentCacheRecord{Identity: identity, Segment: segment})
	for _, e := range n.host.CapabilityEntries() {
		if e.Advert.PeerID == n.host.ID() {
			continue
		}
		wg.Add(1)
		go func(peerID string) {
			defer wg.Done()
			resp, err := n.host.Request(ctx, peerID, protoSegmentCache, req)
			if err != nil {
				return
			}
			var got api.SegmentCacheRecord
			if json.Unmarshal(resp, &got) != nil || got.Identity != identity || got.Segment != segment || checkSegmentRecord(got) != nil {
				return
			}
			select {
			case found <- got:
				cancel()
			default:
			}
		}(e.Advert.PeerID)
	}
	wg.Wait()
	select {
	case got := <-found:
		data, _ := json.Marshal(got)
		if err := n.meta.Put(ctx, segmentCacheKey(identity, segment), data); err != nil {
			n.log.Warn("segment cache: remember peer record", "err", err)
		}
		return got, nil
	default:
		return rec, fmt.Errorf("segment %s of %s (asked this node and its peers): %w", segment, identity, gateway.ErrNotFound)
	}
}

func (n *Node) localSegment(ctx context.Context, identity, segment string) (api.SegmentCacheRecord, bool, error) {
	var rec api.SegmentCacheRecord
	data, err := n.meta.Get(ctx, segmentCacheKey(identity, segment))
	if errors.Is(err, ds.ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("segment cache: %w", err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, false, fmt.Errorf("segment cache: %w", err)
	}
	return rec, true, nil
}

// handleSegmentCache answers a peer asking for a segment output this node
// has a record of (its own computation or a record it learned).
func (n *Node) handleSegmentCache(ctx context.Context, from string, msg []byte) ([]byte, error) {
	var req api.SegmentCacheRecord
	if err := json.Unmarshal(msg, &req); err != nil {
		return nil, fmt.Errorf("segment cache request: %w", err)
	}
	rec, ok, err := n.localSegment(ctx, req.Identity, req.Segment)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("segment %s of %s: %w", req.Segment, req.Identity, gateway.ErrNotFound)
	}
	return json.Marshal(rec)
}
