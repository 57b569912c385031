package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipdm/ipdm/devnet"
)

// trivialModule is a WASI command whose _start returns at once.
var trivialModule = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
	0x03, 0x02, 0x01, 0x00,
	0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00,
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b,
}

// BenchmarkJobs measures, on a 5-daemon loopback network, the latency from
// submit to verified result for trivial jobs with 1 and 3 replicas (p50
// and p99), and the sustained rate of trivial 1-replica jobs. The baseline
// is a plain API round trip (GET /id) to the same daemon.
//
//	go test ./integration -run '^$' -bench BenchmarkJobs -benchtime 1x
func BenchmarkJobs(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	net, err := devnet.Start(ctx, devnet.Options{Binary: ipdmBin, Nodes: 5, Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer net.Stop()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := net.WaitPeers(wctx, 4); err != nil {
		b.Fatal(err)
	}
	c := net.Nodes[0].Client()
	defer c.Close()
	mod, err := c.ModuleAdd(ctx, trivialModule, "", "")
	if err != nil {
		b.Fatal(err)
	}
	spec := func(replicas int) []byte {
		return []byte(fmt.Sprintf(`{"apiVersion":"ipdm/v1","kind":"Job","module":%q,"replicas":%d}`, mod.CID, replicas))
	}
	const samples = 60
	base := make([]time.Duration, 0, samples)
	for i := 0; i < samples; i++ {
		t := time.Now()
		if _, err := c.ID(ctx); err != nil {
			b.Fatal(err)
		}
		base = append(base, time.Since(t))
	}
	b.ResetTimer()
	for _, replicas := range []int{1, 3} {
		lat := make([]time.Duration, 0, samples)
		for i := 0; i < samples; i++ {
			t := time.Now()
			j, err := c.JobSubmit(ctx, spec(replicas), true)
			if err != nil || j.State != "completed" {
				b.Fatalf("job: %v %+v", err, j)
			}
			lat = append(lat, time.Since(t))
		}
		b.ReportMetric(ms(pct(lat, 50)), fmt.Sprintf("p50-ms-%dreplica", replicas))
		b.ReportMetric(ms(pct(lat, 99)), fmt.Sprintf("p99-ms-%dreplica", replicas))
	}
	// Sustained rate: 16 clients submitting and waiting in a loop.
	const total, clients = 400, 16
	var wg sync.WaitGroup
	jobs := make(chan struct{}, total)
	for i := 0; i < total; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	cpu0 := daemonsCPU(net)
	t := time.Now()
	var failed sync.Map
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if j, err := c.JobSubmit(ctx, spec(1), true); err != nil || j.State != "completed" {
					failed.Store(fmt.Sprint(err, j.State), true)
				}
			}
		}()
	}
	wg.Wait()
	rate := float64(total) / time.Since(t).Seconds()
	cpu := daemonsCPU(net) - cpu0
	failed.Range(func(k, _ any) bool { b.Errorf("job failed: %v", k); return false })
	b.ReportMetric(rate, "jobs/s")
	if cpu > 0 {
		// CPU time of all five daemons per job: unlike jobs/s, it does not
		// depend on what else the machine runs.
		b.ReportMetric(ms(cpu)/total, "daemon-cpu-ms/job")
	}
	b.ReportMetric(ms(pct(base, 50)), "p50-ms-api-baseline")
	os.WriteFile(filepath.Join(dir, "done"), nil, 0o600)
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// daemonsCPU sums the user and system CPU time of the devnet's daemons
// (Linux /proc; zero elsewhere).
func daemonsCPU(net *devnet.Net) time.Duration {
	var total time.Duration
	for _, n := range net.Nodes {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.PID()))
		if err != nil {
			return 0
		}
		// Fields after the command name (which may hold spaces): utime
		// and stime are the 12th and 13th, in clock ticks (100 Hz).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			return 0
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}
