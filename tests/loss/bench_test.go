package loss

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var benchClients = flag.Int("loss.clients", 4, "concurrent clients of BenchmarkUpsert")

const (
	benchBatch = 256
	benchDim   = 128
)

// BenchmarkUpsert measures upsert throughput through one router: batches
// of 256 points of 128 dimensions, wait=true, from -loss.clients clients,
// for replication factors 1, 2 and 3 and their write consistency factors.
// One op is one batch; points/s is the metric to read.
//
//	go test ./tests/loss/ -run '^$' -bench Upsert -benchtime 200x
func BenchmarkUpsert(b *testing.B) {
	needBinaries(b)
	ctx := context.Background()
	c := startCluster(b, b.TempDir(), 3, 1)
	base := c.routerURLs[0]
	rng := rand.New(rand.NewSource(1))
	pool := make([][]float32, 4*benchBatch)
	for i := range pool {
		pool[i] = make([]float32, benchDim)
		for j := range pool[i] {
			pool[i][j] = rng.Float32()*2 - 1
		}
	}
	for _, tc := range []struct{ rf, wcf int }{{1, 1}, {2, 1}, {2, 2}, {3, 1}, {3, 2}, {3, 3}} {
		b.Run(fmt.Sprintf("replication_factor=%d/write_consistency_factor=%d", tc.rf, tc.wcf), func(b *testing.B) {
			name := fmt.Sprintf("bench_rf%d_wcf%d_%d", tc.rf, tc.wcf, time.Now().UnixNano())
			if err := createCollection(ctx, base, name, map[string]any{
				"vectors": map[string]any{"size": benchDim, "distance": "Cosine"}, "shard_number": 3,
				"replication_factor": tc.rf, "write_consistency_factor": tc.wcf,
			}); err != nil {
				b.Fatal(err)
			}
			if _, err := c.waitAllActive(ctx, name, 60*time.Second); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64 // batches handed out
			var failed atomic.Int64
			var firstErr atomic.Value
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for cl := 0; cl < *benchClients; cl++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := next.Add(1) - 1
						if n >= int64(b.N) {
							return
						}
						pts := make([]map[string]any, benchBatch)
						for i := range pts {
							id := uint64(n)*benchBatch + uint64(i)
							pts[i] = map[string]any{"id": id, "vector": pool[(int(n)+i)%len(pool)]}
						}
						r, err := call(ctx, http.MethodPut, base+"/collections/"+name+"/points?wait=true", map[string]any{"points": pts})
						if err != nil || !completed(r) {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, fmt.Sprintf("%v %d %s", err, r.Status, r.Raw))
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d batches failed; first: %v", n, b.N, firstErr.Load())
			}
			b.ReportMetric(float64(b.N*benchBatch)/elapsed.Seconds(), "points/s")
		})
	}
}

// BenchmarkFailover measures, per op, the time from kill -9 of the node
// holding a shard's primary to the first acknowledged write on that shard
// (one shard, replication_factor 3, write_consistency_factor 2; a client
// writes one point with wait=true in a loop, every 20 ms after a failure).
// The node is restarted and every replica Active again before the next
// op, outside the measurement.
//
//	go test ./tests/loss/ -run '^$' -bench Failover -benchtime 5x
func BenchmarkFailover(b *testing.B) {
	needBinaries(b)
	ctx := context.Background()
	c := startCluster(b, b.TempDir(), 3, 1)
	base := c.routerURLs[0]
	const name = "failover"
	if err := createCollection(ctx, base, name, map[string]any{
		"vectors": map[string]any{"size": 8, "distance": "Dot"}, "shard_number": 1,
		"replication_factor": 3, "write_consistency_factor": 2,
	}); err != nil {
		b.Fatal(err)
	}
	write := func(id int) (response, error) {
		return call(ctx, http.MethodPut, base+"/collections/"+name+"/points?wait=true", map[string]any{
			"points": []map[string]any{{"id": id, "vector": vectorFor(uint64(id), 1, 8)}}})
	}
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := c.waitAllActive(ctx, name, 60*time.Second); err != nil {
			b.Fatal(err)
		}
		if r, err := write(0); err != nil || !completed(r) {
			b.Fatalf("write before the kill: %v %d %s", err, r.Status, r.Raw)
		}
		m, err := c.shardMap(ctx, name)
		if err != nil {
			b.Fatal(err)
		}
		sh := m.GetShards()[0]
		p := c.procOf(sh.GetPrimary())
		if p == nil {
			b.Fatalf("primary %d is no known storage node", sh.GetPrimary())
		}
		b.StartTimer()
		t0 := time.Now()
		if err := p.kill9(); err != nil {
			b.Fatal(err)
		}
		var took time.Duration
		for try := 1; ; try++ {
			r, err := write(try)
			if err == nil && completed(r) {
				took = time.Since(t0)
				break
			}
			if time.Since(t0) > 2*time.Minute {
				b.Fatalf("no acknowledged write 2 min after killing %s: %v %d %s", p.label, err, r.Status, r.Raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
		b.StopTimer()
		times = append(times, took)
		m2, _ := c.shardMap(ctx, name)
		b.Logf("failover %d: killed %s (primary, term %d) -> first acknowledged write after %v; map now %s", i, p.label, sh.GetTerm(), took.Round(time.Millisecond), c.describeMap(m2))
		if err := p.start(); err != nil {
			b.Fatal(err)
		}
		if err := p.waitHealthy(ctx, 30*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	var sum time.Duration
	for _, d := range times {
		sum += d
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(times)), "failover-ms")
	b.ReportMetric(float64(times[len(times)/2].Milliseconds()), "median-failover-ms")
	b.ReportMetric(float64(times[len(times)-1].Milliseconds()), "max-failover-ms")
}
