package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/ipdm/ipdm/api"
)

// SegmentCache is the part of a node that keeps pipeline segment outputs:
// where each (module identity, segment) output is stored, learned from
// this node's runs or asked of its peers.
type SegmentCache interface {
	SegmentCacheGet(ctx context.Context, identity, segment string) (api.SegmentCacheRecord, error)
	SegmentCachePut(ctx context.Context, rec api.SegmentCacheRecord) error
}

func (a *apiServer) segmentCacheGet(r *http.Request) (any, error) {
	sc, ok := a.b.(SegmentCache)
	if !ok {
		return nil, NotFound(fmt.Errorf("this node keeps no pipeline segment cache"))
	}
	return sc.SegmentCacheGet(r.Context(), r.PathValue("identity"), r.PathValue("segment"))
}

func (a *apiServer) segmentCachePut(r *http.Request) (any, error) {
	sc, ok := a.b.(SegmentCache)
	if !ok {
		return nil, NotFound(fmt.Errorf("this node keeps no pipeline segment cache"))
	}
	var rec api.SegmentCacheRecord
	data, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJSONBody {
		return nil, BadRequest(fmt.Errorf("record of more than %d bytes", maxJSONBody))
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, BadRequest(fmt.Errorf("segment cache record: %w", err))
	}
	if rec.Identity != r.PathValue("identity") || rec.Segment != r.PathValue("segment") {
		return nil, BadRequest(fmt.Errorf("the record is for %s/%s, not the path's %s/%s", rec.Identity, rec.Segment, r.PathValue("identity"), r.PathValue("segment")))
	}
	return rec, sc.SegmentCachePut(r.Context(), rec)
}
