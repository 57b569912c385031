package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ipfs/boxo/files"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/verify"
)

// emptyBackend holds nothing: every lookup is not found. It lets the fuzz
// targets exercise the API's own request parsing.
type emptyBackend struct{}

func (emptyBackend) Add(_ context.Context, n files.Node, _ AddOptions) (api.AddResult, error) {
	if f, ok := n.(files.File); ok {
		k, err := io.Copy(io.Discard, f)
		return api.AddResult{Bytes: k}, err
	}
	return api.AddResult{}, nil
}
func (emptyBackend) Cat(context.Context, cid.Cid) (io.ReadCloser, int64, error) {
	return nil, 0, ErrNotFound
}
func (emptyBackend) Get(context.Context, cid.Cid) (files.Node, error) { return nil, ErrNotFound }
func (emptyBackend) PinAdd(context.Context, cid.Cid, bool) (api.Pin, error) {
	return api.Pin{}, ErrNotFound
}
func (emptyBackend) PinRm(context.Context, cid.Cid) error           { return ErrNotFound }
func (emptyBackend) PinLs(context.Context) ([]api.Pin, error)       { return nil, nil }
func (emptyBackend) GC(context.Context) (api.GCResult, error)       { return api.GCResult{}, nil }
func (emptyBackend) RepoStat(context.Context) (api.RepoStat, error) { return api.RepoStat{}, nil }
func (emptyBackend) RepoVerify(context.Context) (api.VerifyResult, error) {
	return api.VerifyResult{}, nil
}
func (emptyBackend) DagExport(context.Context, cid.Cid, io.Writer) error { return ErrNotFound }
func (emptyBackend) DagImport(context.Context, io.Reader, bool) (api.ImportResult, error) {
	return api.ImportResult{}, ErrBadRequest
}
func (emptyBackend) BlockGet(context.Context, cid.Cid) (blocks.Block, error) { return nil, ErrNotFound }
func (emptyBackend) BlockPut(_ context.Context, data []byte, codec uint64) (api.BlockStat, error) {
	return api.BlockStat{Size: len(data)}, nil
}
func (emptyBackend) ID(context.Context) (api.Identity, error)            { return api.Identity{}, nil }
func (emptyBackend) SwarmConnect(context.Context, string) error          { return ErrBadRequest }
func (emptyBackend) SwarmPeers(context.Context) ([]api.SwarmPeer, error) { return nil, nil }
func (emptyBackend) Peers(context.Context) ([]api.PeerCapability, error) { return nil, nil }
func (emptyBackend) ModuleAdd(context.Context, []byte, string, string) (api.Module, error) {
	return api.Module{}, ErrBadRequest
}
func (emptyBackend) ModuleResolve(context.Context, string) (api.Module, error) {
	return api.Module{}, ErrNotFound
}
func (emptyBackend) ModuleList(context.Context) ([]api.Module, error) { return nil, nil }
func (emptyBackend) JobSubmit(context.Context, []byte, bool) (api.Job, error) {
	return api.Job{}, ErrBadRequest
}
func (emptyBackend) JobDescribe(context.Context, string) (api.Job, error) {
	return api.Job{}, ErrNotFound
}
func (emptyBackend) JobList(context.Context) ([]api.Job, error) { return nil, nil }
func (emptyBackend) JobCancel(context.Context, string) (api.Job, error) {
	return api.Job{}, ErrNotFound
}
func (emptyBackend) JobReceipts(context.Context, string) ([]verify.Receipt, error) {
	return nil, ErrNotFound
}

// FuzzParseCID checks CID parsing as the API does it: a string either
// fails to decode (and the API answers 400) or round-trips through its
// canonical string form to the same CID (and the API answers 404 here).
func FuzzParseCID(f *testing.F) {
	for _, s := range []string{
		"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
		"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
		"bafybeigmdn54ysmbug2zhflk2dygoxlh6yn2tnjmaoyp55mtxqvje7erxi",
		"bafkqaaa", "", "b", "Qm", "zdj7W", "f01551220", "baguqeerasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea",
		"bafy\x00", strings.Repeat("a", 300),
	} {
		f.Add(s)
	}
	h := NewAPI(emptyBackend{}, APIOptions{})
	f.Fuzz(func(t *testing.T, s string) {
		c, err := cid.Decode(s)
		if err == nil {
			again, err := cid.Decode(c.String())
			if err != nil || !again.Equals(c) {
				t.Fatalf("%q decoded to %s which does not round-trip: %v", s, c, err)
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/blocks/"+url.PathEscape(s)+"/stat", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		want := http.StatusNotFound
		if err != nil {
			want = http.StatusBadRequest
		}
		if s == "" || s == "." || s == ".." || strings.Contains(s, "/") {
			// Another route (or a path-cleaning redirect) answers; only
			// "no 5xx" holds.
			if rec.Code >= 500 {
				t.Fatalf("%q: status %d", s, rec.Code)
			}
			return
		}
		if rec.Code != want && rec.Code != http.StatusNotFound {
			t.Fatalf("%q: status %d, want %d", s, rec.Code, want)
		}
		if rec.Code >= 500 {
			t.Fatalf("%q: status %d", s, rec.Code)
		}
	})
}

// FuzzAPIRequest throws arbitrary methods, paths, queries and bodies at the
// admin API: it must answer every one without panicking or a 5xx.
func FuzzAPIRequest(f *testing.F) {
	f.Add("POST", "/api/v1/swarm/connect", "", `{"addr":"/ip4/127.0.0.1/tcp/1"}`)
	f.Add("POST", "/api/v1/blocks", "codec=dag-pb", "xyz")
	f.Add("GET", "/api/v1/cat/QmNope", "timeout=-1s", "")
	f.Add("POST", "/api/v1/pins/bafkqaaa", "recursive=maybe", "")
	f.Add("POST", "/api/v1/add", "pin=false", "--x\r\n")
	f.Add("DELETE", "/api/v1/pins", "", "")
	h := NewAPI(emptyBackend{}, APIOptions{})
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		u := &url.URL{Path: path, RawQuery: query}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(method, " \t\r\n") || method == "" {
			return
		}
		req, err := http.NewRequest(method, "http://api"+u.String(), strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s: status %d: %s", method, path, query, rec.Code, rec.Body)
		}
	})
}
