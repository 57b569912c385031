package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInitOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	if err := Init(dir, InitOptions{Config: Config{API: "127.0.0.1:0"}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("identity mode %v, want 0600", st.Mode().Perm())
	}
	if err := Init(dir, InitOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second init: %v, want ErrExists", err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Config().API != "127.0.0.1:0" {
		t.Fatalf("api %q", r.Config().API)
	}
	if len(r.Key()) == 0 {
		t.Fatal("no key")
	}
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := r.WriteAddr(APIFile, "127.0.0.1:1234"); err != nil {
		t.Fatal(err)
	}
	if a, err := ReadAddr(dir, APIFile); err != nil || a != "127.0.0.1:1234" {
		t.Fatalf("ReadAddr = %q, %v", a, err)
	}
	if err := r.RemoveAddr(APIFile); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveAddr(APIFile); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close()
	r2, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	r2.Close()
}

func TestOpenMissing(t *testing.T) {
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("got %v", err)
	}
}

func TestIdentityPermissions(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, IdentityFile), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	off := false
	c := Config{
		Listen:          []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap:       []string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWabc"},
		API:             "127.0.0.1:0",
		MDNS:            &off,
		Roles:           []string{RoleStorage},
		StorageMaxBytes: 1 << 30,
		AdvertInterval:  time.Second,
	}
	got, err := ParseConfig(c.Render())
	if err != nil {
		t.Fatal(err)
	}
	want := c.WithDefaults()
	if got.API != want.API || got.MDNSEnabled() || got.Roles[0] != RoleStorage || got.StorageMaxBytes != 1<<30 ||
		got.AdvertInterval != time.Second || got.Bootstrap[0] != c.Bootstrap[0] || got.Listen[0] != c.Listen[0] {
		t.Fatalf("round trip: got %+v", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"apii: x\n", "field apii not found"},
		{"api: nohostport\n", "not host:port"},
		{"roles: [miner]\n", "unknown role"},
		{"bootstrap: [\"/ip4/1.2.3.4/tcp/1\"]\n", "/p2p/PEERID"},
		{"listen: [\"tcp://x\"]\n", "not a multiaddr"},
		{"advert_interval: banana\n", "banana"},
	} {
		_, err := ParseConfig([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want error containing %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseConfig(nil); err != nil {
		t.Errorf("empty config: %v", err)
	}
}
