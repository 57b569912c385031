package integration

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/devnet"
)

// TestBadInput feeds malformed input to the CLI and the API of a running
// daemon: each gets a clear error and the store stays consistent.
func TestBadInput(t *testing.T) {
	net := startNet(t, 1, devnet.Options{FetchTimeout: 2 * time.Second})
	n := net.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("malformed CID", func(t *testing.T) {
		_, errs, code := ipdm(t, nil, "cat", "--repo", n.Repo, "bafybeigarbage!")
		if code == 0 || !strings.Contains(errs, "ipdm: error: invalid CID") || !strings.Contains(errs, "ipdm: hint:") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("unknown CID times out", func(t *testing.T) {
		// A valid CID of bytes nobody has.
		start := time.Now()
		_, errs, code := ipdm(t, nil, "cat", "--repo", n.Repo, "bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom")
		if code == 0 || !strings.Contains(errs, "within") || !strings.Contains(errs, "hint") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("gave up after %s, want about the 2s fetch timeout", d)
		}
		_, errs, code = ipdm(t, nil, "cat", "--repo", n.Repo, "--timeout", "1s", "bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom")
		if code == 0 || !strings.Contains(errs, "hint") {
			t.Fatalf("--timeout: exit %d, stderr %q", code, errs)
		}
	})
	t.Run("truncated and malicious CAR", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f.bin")
		os.WriteFile(file, randomBytes(9, 3<<20), 0o600)
		root := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", n.Repo, file))
		carBytes := []byte(mustIPDM(t, "dag", "export", "--repo", n.Repo, root))
		mustIPDM(t, "pin", "rm", "--repo", n.Repo, root)
		mustIPDM(t, "repo", "gc", "--repo", n.Repo)

		for name, bad := range map[string][]byte{
			"truncated": carBytes[:len(carBytes)/2],
			"bit flip":  flip(carBytes, len(carBytes)-100),
			"garbage":   []byte("this is not a CAR file at all"),
			"empty":     nil,
		} {
			_, errs, code := ipdm(t, bytes.NewReader(bad), "dag", "import", "--repo", n.Repo, "-")
			if code == 0 || !strings.Contains(errs, "ipdm: error:") {
				t.Errorf("%s CAR: exit %d, stderr %q", name, code, errs)
			}
		}
		pins := mustIPDM(t, "pin", "ls", "--repo", n.Repo)
		if strings.Contains(pins, root) {
			t.Fatalf("a broken CAR pinned its root: %s", pins)
		}
		if out := mustIPDM(t, "repo", "verify", "--repo", n.Repo); !strings.Contains(out, " 0 corrupt") {
			t.Fatalf("verify after bad imports: %s", out)
		}
		// The intact CAR still imports and pins.
		_, errs, code := ipdm(t, bytes.NewReader(carBytes), "dag", "import", "--repo", n.Repo, "-")
		if code != 0 {
			t.Fatalf("good CAR: exit %d: %s", code, errs)
		}
		if !strings.Contains(mustIPDM(t, "pin", "ls", "--repo", n.Repo), root) {
			t.Fatal("good CAR root not pinned")
		}
	})
	t.Run("oversized and malformed API requests", func(t *testing.T) {
		base := "http://" + n.API + "/api/v1"
		for _, tc := range []struct {
			method, path, ctype string
			body                []byte
			want                int
		}{
			{"POST", "/blocks", "application/octet-stream", make([]byte, 3<<20), http.StatusRequestEntityTooLarge},
			{"POST", "/swarm/connect", "application/json", []byte("{not json"), http.StatusBadRequest},
			{"POST", "/swarm/connect", "application/json", []byte(`{"addr":"/ip4/1.2.3.4/tcp/1","evil":1}`), http.StatusBadRequest},
			{"POST", "/swarm/connect", "application/json", append([]byte(`{"addr":"`), bytes.Repeat([]byte("a"), 1<<20)...), http.StatusRequestEntityTooLarge},
			{"GET", "/cat/QmNotACid", "", nil, http.StatusBadRequest},
			{"GET", "/cat/bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom?timeout=banana", "", nil, http.StatusBadRequest},
			{"POST", "/add", "multipart/form-data; boundary=x", []byte("--x\r\nbroken"), http.StatusBadRequest},
			{"GET", "/nope", "", nil, http.StatusNotFound},
		} {
			req, _ := http.NewRequestWithContext(ctx, tc.method, base+tc.path, bytes.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s %s: error content type %q, want JSON", tc.method, tc.path, ct)
			}
		}
		// The daemon still serves.
		if out := mustIPDM(t, "repo", "verify", "--repo", n.Repo); !strings.Contains(out, " 0 corrupt") {
			t.Fatalf("verify: %s", out)
		}
	})
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

// TestCorruptBlockRefetched corrupts a block file on disk of a node that
// holds a copy; the next read detects it and fetches the block again from
// a peer.
func TestCorruptBlockRefetched(t *testing.T) {
	net := startNet(t, 2, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(11, 4<<20)
	file := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(file, data, 0o600)
	root := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", net.Nodes[0].Repo, file))
	n1 := net.Nodes[1]
	mustIPDM(t, "pin", "add", "--repo", n1.Repo, root)

	// Overwrite the middle of every 1 MiB leaf file of node1 with zeros.
	corrupted := 0
	filepath.Walk(filepath.Join(n1.Repo, "blocks"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Size() != 1<<20 {
			return nil
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return nil
		}
		f.WriteAt(make([]byte, 4096), 1<<19)
		f.Close()
		corrupted++
		return nil
	})
	if corrupted != 4 {
		t.Fatalf("corrupted %d leaf files, want 4", corrupted)
	}
	got := mustIPDM(t, "cat", "--repo", n1.Repo, root)
	if sum([]byte(got)) != sum(data) {
		t.Fatal("cat after corruption returned wrong bytes")
	}
	if out := mustIPDM(t, "repo", "verify", "--repo", n1.Repo); !strings.Contains(out, " 0 corrupt") {
		t.Fatalf("after refetch, verify says: %s", out)
	}
}
