package capability

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	mh "github.com/multiformats/go-multihash"
)

// testPeerID returns a well-formed base58 multihash peer ID derived from i.
func testPeerID(t testing.TB, i int) string {
	t.Helper()
	h, err := mh.Sum([]byte(fmt.Sprintf("peer-%d", i)), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return h.B58String()
}

// A real ed25519 libp2p peer ID (identity multihash), as printed by go-libp2p.
const edPeerID = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"

func fullAdvert(t testing.TB) Advert {
	return Advert{
		PeerID:        edPeerID,
		Roles:         []string{RoleStorage, RoleProcessing, RoleGateway},
		Cores:         8,
		MemoryBytes:   32 << 30,
		FreeDiskBytes: 1 << 40,
		Version:       "ipdm/0.1.0 (linux/amd64)",
		Addrs:         []string{"/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1"},
		Seq:           1<<63 + 5, // larger than a float64 can carry exactly
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		a    Advert
	}{
		{"full", fullAdvert(t)},
		{"minimal", Advert{PeerID: testPeerID(t, 1)}},
		{"max values", Advert{
			PeerID: testPeerID(t, 2), Cores: MaxCores, MemoryBytes: MaxMemoryBytes,
			FreeDiskBytes: MaxFreeDiskBytes, Seq: ^uint64(0),
			Version: strings.Repeat("v", MaxVersionLen),
		}},
		{"unicode version", Advert{PeerID: testPeerID(t, 3), Version: "ipdm-été 1.0", Seq: 7}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.a.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, tc.a) {
				t.Fatalf("round trip mismatch:\n got %+v\nwant %+v", got, tc.a)
			}
		})
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	base := func() Advert { return Advert{PeerID: testPeerID(t, 1), Seq: 1} }
	cases := []struct {
		name   string
		mutate func(*Advert)
		want   string
	}{
		{"empty peer", func(a *Advert) { a.PeerID = "" }, "peer id is empty"},
		{"bad peer", func(a *Advert) { a.PeerID = "not-a-peer" }, "not a base58 multihash"},
		{"long peer", func(a *Advert) { a.PeerID = strings.Repeat("Q", MaxPeerIDLen+1) }, "limit"},
		{"unknown role", func(a *Advert) { a.Roles = []string{"miner"} }, `unknown role "miner"`},
		{"duplicate role", func(a *Advert) { a.Roles = []string{RoleStorage, RoleStorage} }, "listed twice"},
		{"negative cores", func(a *Advert) { a.Cores = -1 }, "cores -1 is negative"},
		{"too many cores", func(a *Advert) { a.Cores = MaxCores + 1 }, "exceeds limit"},
		{"too much memory", func(a *Advert) { a.MemoryBytes = MaxMemoryBytes + 1 }, "memory"},
		{"too much disk", func(a *Advert) { a.FreeDiskBytes = MaxFreeDiskBytes + 1 }, "free disk"},
		{"long version", func(a *Advert) { a.Version = strings.Repeat("x", MaxVersionLen+1) }, "version is"},
		{"control char version", func(a *Advert) { a.Version = "a\x00b" }, "non-printable"},
		{"too many addrs", func(a *Advert) {
			for i := 0; i <= MaxAddrs; i++ {
				a.Addrs = append(a.Addrs, "/ip4/127.0.0.1/tcp/1")
			}
		}, "addrs, limit"},
		{"bad addr", func(a *Advert) { a.Addrs = []string{"/ip4/999.0.0.1/tcp/1"} }, "not a multiaddr"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.mutate(&a)
			_, err := a.Encode()
			if !errors.Is(err, ErrInvalidAdvert) {
				t.Fatalf("Encode error = %v, want ErrInvalidAdvert", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	p := testPeerID(t, 1)
	cases := []struct {
		name    string
		in      string
		wantErr error
		want    string
	}{
		{"empty input", ``, ErrInvalidAdvert, "not a JSON object"},
		{"not json", `hello`, ErrInvalidAdvert, "not a JSON object"},
		{"array", `[1,2]`, ErrInvalidAdvert, "not a JSON object"},
		{"missing version", `{"peer":"` + p + `","seq":1}`, ErrInvalidAdvert, `missing format version`},
		{"future version", `{"v":2,"peer":"` + p + `","seq":1,"gpu":4}`, ErrUnsupportedVersion, "version 2"},
		{"negative version", `{"v":-1}`, ErrInvalidAdvert, "v -1 is negative"},
		{"unknown field", `{"v":1,"peer":"` + p + `","seq":1,"gpu":4}`, ErrInvalidAdvert, `unknown field "gpu"`},
		{"missing seq", `{"v":1,"peer":"` + p + `"}`, ErrInvalidAdvert, `missing field "seq"`},
		{"missing peer", `{"v":1,"seq":1}`, ErrInvalidAdvert, "peer id is empty"},
		{"negative cores", `{"v":1,"peer":"` + p + `","seq":1,"cores":-4}`, ErrInvalidAdvert, "cores -4 is negative"},
		{"negative memory", `{"v":1,"peer":"` + p + `","seq":1,"mem":-1}`, ErrInvalidAdvert, "mem -1 is negative"},
		{"negative seq", `{"v":1,"peer":"` + p + `","seq":-1}`, ErrInvalidAdvert, "seq -1 is negative"},
		{"fractional cores", `{"v":1,"peer":"` + p + `","seq":1,"cores":1.5}`, ErrInvalidAdvert, "not a non-negative integer"},
		{"exponent disk", `{"v":1,"peer":"` + p + `","seq":1,"disk":1e9}`, ErrInvalidAdvert, "not a non-negative integer"},
		{"huge cores", `{"v":1,"peer":"` + p + `","seq":1,"cores":70000}`, ErrInvalidAdvert, "cores 70000 exceeds limit"},
		{"overflow disk", `{"v":1,"peer":"` + p + `","seq":1,"disk":99999999999999999999999}`, ErrInvalidAdvert, "exceeds limit"},
		{"overflow seq", `{"v":1,"peer":"` + p + `","seq":18446744073709551616}`, ErrInvalidAdvert, "seq"},
		{"string number", `{"v":1,"peer":"` + p + `","seq":"1"}`, ErrInvalidAdvert, "invalid capability advert"},
		{"unknown role", `{"v":1,"peer":"` + p + `","seq":1,"roles":["storage","miner"]}`, ErrInvalidAdvert, `unknown role "miner"`},
		{"bad peer", `{"v":1,"peer":"0OIl","seq":1}`, ErrInvalidAdvert, "not a base58 multihash"},
		{"trailing data", `{"v":1,"peer":"` + p + `","seq":1} {}`, ErrInvalidAdvert, "not a JSON object"},
		{"too large", `{"v":1,"peer":"` + p + `","seq":1,"version":"` + strings.Repeat("x", MaxEncodedSize) + `"}`, ErrInvalidAdvert, "exceeds limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("Decode accepted %q as %+v", tc.in, a)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Decode error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error %q does not mention %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "capability: decode: ") {
				t.Fatalf("Decode error %q lacks op prefix", err)
			}
		})
	}
}

func TestDecodeTrailingAfterValidObject(t *testing.T) {
	p := testPeerID(t, 1)
	// json.Unmarshal rejects trailing garbage itself; a second value after
	// whitespace is caught the same way. Either way the advert is refused.
	for _, in := range []string{
		`{"v":1,"peer":"` + p + `","seq":1}x`,
		`{"v":1,"peer":"` + p + `","seq":1}` + "\n" + `{"v":1}`,
	} {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrInvalidAdvert) {
			t.Errorf("Decode(%q) error = %v, want ErrInvalidAdvert", in, err)
		}
	}
}

func TestHasRole(t *testing.T) {
	a := Advert{Roles: []string{RoleStorage, RoleGateway}}
	for role, want := range map[string]bool{RoleStorage: true, RoleGateway: true, RoleProcessing: false, "": false} {
		if got := a.HasRole(role); got != want {
			t.Errorf("HasRole(%q) = %v, want %v", role, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, err := fullAdvert(f).Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"v":1,"peer":"` + edPeerID + `","seq":0}`))
	f.Add([]byte(`{"v":1,"peer":"` + edPeerID + `","seq":1,"cores":-1}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"peer":"` + edPeerID + `","seq":1,"addrs":["/ip4/1.2.3.4/tcp/1/p2p/` + edPeerID + `"]}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidAdvert) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Decode error %v wraps neither sentinel", err)
			}
			return
		}
		// Whatever decodes must validate, re-encode and decode to the same value.
		if err := a.Validate(); err != nil {
			t.Fatalf("decoded advert does not validate: %v", err)
		}
		b2, err := a.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		a2, err := Decode(b2)
		if err != nil {
			t.Fatalf("decode of re-encoded advert: %v", err)
		}
		if !reflect.DeepEqual(normalize(a), normalize(a2)) {
			t.Fatalf("re-encode changed advert:\n%+v\n%+v", a, a2)
		}
	})
}

// normalize maps empty slices to nil: "roles":[] and an absent field both
// mean no roles.
func normalize(a Advert) Advert {
	if len(a.Roles) == 0 {
		a.Roles = nil
	}
	if len(a.Addrs) == 0 {
		a.Addrs = nil
	}
	return a
}
