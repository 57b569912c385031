package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// SegmentCacheRecord says where one pipeline module's output over one
// segment is stored: the CID of its encoded output (package
// pipeline/engine), the node that answered (this node, or the peer it was
// learned from) and, when the output was computed on the network, the
// evidence for it: the job, the result directory its quorum accepted
// (holding the output as MODULE.out) and the executors' signed receipts
// for that result (verify.Receipt JSON), which a reader checks before it
// trusts an output another node recorded.
type SegmentCacheRecord struct {
	Identity string            `json:"identity"`
	Segment  string            `json:"segment"` // "START-END"
	Output   string            `json:"output"`
	Digest   string            `json:"digest"`
	Job      string            `json:"job,omitempty"`
	Result   string            `json:"result,omitempty"`
	Receipts []json.RawMessage `json:"receipts,omitempty"`
	Node     string            `json:"node,omitempty"`
}

// MaxSegmentReceipts bounds the receipts a SegmentCacheRecord carries.
const MaxSegmentReceipts = 16

// SegmentCacheGet looks a segment output up on the node and, when it has
// none, on its peers. A miss is an error matching ErrNotFound.
func (c *Client) SegmentCacheGet(ctx context.Context, identity, segment string) (SegmentCacheRecord, error) {
	var out SegmentCacheRecord
	return out, c.call(ctx, http.MethodGet, "/pipeline/cache/"+url.PathEscape(identity)+"/"+url.PathEscape(segment), nil, &out)
}

// SegmentCachePut records a segment output on the node.
func (c *Client) SegmentCachePut(ctx context.Context, rec SegmentCacheRecord) error {
	return c.call(ctx, http.MethodPut, "/pipeline/cache/"+url.PathEscape(rec.Identity)+"/"+url.PathEscape(rec.Segment), rec, nil)
}
