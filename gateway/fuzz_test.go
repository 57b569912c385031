package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

// FuzzTrustlessPath drives the trustless gateway with arbitrary paths, query
// strings and Accept headers over a complete local DAG (offline, so nothing
// can time out). Whatever the input, the gateway must not panic and must not
// answer 5xx, and every 200 it gives must be verifiable: a raw body hashes to
// the requested CID, and a CAR holds only blocks matching their CIDs.
func FuzzTrustlessPath(f *testing.F) {
	d := newTestDAG(f)
	h, err := NewTrustless(d.bserv, TrustlessOptions{})
	if err != nil {
		f.Fatal(err)
	}
	file, root := d.file.String(), d.root.String()
	seeds := []struct {
		head                bool
		path, query, accept string
	}{
		{false, "/ipfs/" + file, "format=raw", ""},
		{true, "/ipfs/" + file, "format=raw", ""},
		{false, "/ipfs/" + file, "format=car&dag-scope=entity&entity-bytes=100:2000", ""},
		{false, "/ipfs/" + file, "format=car&entity-bytes=-5000:-1", ""},
		{false, "/ipfs/" + file, "format=car&entity-bytes=99999:*", ""},
		{false, "/ipfs/" + file, "format=car&entity-bytes=0:99999", ""},
		{false, "/ipfs/" + file, "format=car&entity-bytes=-99999:-99998", ""},
		{false, "/ipfs/" + file, "format=car&entity-bytes=:", ""},
		{false, "/ipfs/" + file, "format=car&dag-scope=block&car-dups=y&car-order=unk", ""},
		{true, "/ipfs/" + root + "/sub/file", "", "application/vnd.ipld.car; version=1; order=dfs; dups=y"},
		{false, "/ipfs/" + root + "/sub/../sub/./file", "format=car", ""},
		{false, "/ipfs/" + root + "//sub///zeros/", "format=car", ""},
		{false, "/ipfs/" + root + "/hello.txt/deeper", "format=car", ""},
		{false, "/ipfs/" + root + "/%2e%2e", "format=car", ""},
		{false, "/ipfs/" + root, "", "application/vnd.ipld.car; version=\"1"},
		{false, "/ipfs/" + root, "", "application/vnd.ipld.raw;;q=x, application/vnd.ipld.car"},
		{false, "/ipfs/" + root, "format=raw&filename=\"\r\n.bin&download=true", ""},
		{false, "/ipfs/" + root, "uri=ipfs://" + file + "?x", ""},
		{false, "/ipfs/" + root, "uri=%zz", ""},
		{false, "/ipfs/ipfs/" + root, "format=raw", ""},
		{false, "/ipfs/ipns/%", "format=raw", ""},
		{false, "/ipfs/bafkqaaa", "format=car", ""},
		{false, "/ipfs/bafkqaaa", "format=raw", ""},
		{false, "/ipfs/bafkqaba", "format=raw", ""}, // identity CID of one byte? (malformed length)
		{false, "/ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "format=raw", ""},
		{false, "/ipfs/z", "format=raw", ""},
		{false, "/ipfs/", "", ""},
		{false, "/ipfs", "", ""},
		{false, "/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8", "format=ipns-record", ""},
		{false, "/ipld/" + root, "format=car", ""},
		{false, "/", "", ""},
		{false, "/ipfs/" + root, "format=car&dag-scope=entity&entity-bytes=0:0&car-version=1", "application/vnd.ipfs.ipns-record"},
	}
	for _, s := range seeds {
		f.Add(s.head, s.path, s.query, s.accept)
	}

	f.Fuzz(func(t *testing.T, head bool, p, query, accept string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if head {
			req.Method = http.MethodHead
		}
		req.URL.Path = p
		req.URL.RawPath = ""
		req.URL.RawQuery = query
		req.RequestURI = req.URL.RequestURI()
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("%s %q ?%q Accept %q: %d %q", req.Method, p, query, accept, rec.Code, rec.Body.String())
		}
		if rec.Code != http.StatusOK || head {
			return
		}
		switch ct := rec.Header().Get("Content-Type"); {
		case ct == "application/vnd.ipld.raw":
			c, err := requestedCID(p)
			if err != nil {
				t.Fatalf("raw 200 for %q, whose CID does not parse: %v", p, err)
			}
			verifyBlock(t, c, rec.Body.Bytes())
		case strings.HasPrefix(ct, "application/vnd.ipld.car"):
			readCAR(t, rec.Body.Bytes())
		default:
			t.Fatalf("200 with Content-Type %q for %q ?%q", ct, p, query)
		}
	})
}

// requestedCID returns the CID segment of a /ipfs/{cid}[/...] path.
func requestedCID(p string) (cid.Cid, error) {
	rest, _ := strings.CutPrefix(p, "/ipfs/")
	seg, _, _ := strings.Cut(rest, "/")
	if unescaped, err := url.PathUnescape(seg); err == nil {
		seg = unescaped
	}
	return cid.Decode(seg)
}
