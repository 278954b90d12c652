package replica

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
)

// commitProbe upserts single points into r from one goroutine, as fast as
// commits allow, and records each Apply's latency until stopped.
type commitProbe struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	lat  []time.Duration
}

func startCommitProbe(b testing.TB, r *Replica, firstID uint64) *commitProbe {
	p := &commitProbe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		v := make([]float32, 128)
		for id := firstID; ; id++ {
			select {
			case <-p.stop:
				return
			default:
			}
			v[id%128] = float32(id)
			t0 := time.Now()
			if _, err := r.Apply(context.Background(), upsertOp(point(id, ``, map[string][]float32{"": v})), false); err != nil {
				b.Error(err)
				return
			}
			p.mu.Lock()
			p.lat = append(p.lat, time.Since(t0))
			p.mu.Unlock()
		}
	}()
	return p
}

// finish stops the probe and returns the latencies it saw.
func (p *commitProbe) finish() []time.Duration {
	close(p.stop)
	<-p.done
	return p.lat
}

// reportLatencies reports the worst, 99th-percentile and median latency.
func reportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)-1]), "max-commit-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-commit-ms")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-commit-ms")
}

// BenchmarkSegmentStoreCommitLatency writes the blob of a sealed
// 10 000 × 128 segment (about 6.6 MB), and a 64 MiB blob like a large
// merged segment's, through the replica's segment store while another
// goroutine commits single-point upserts, and reports the commit
// latencies during the write, for chunks of 1 MiB (segmentChunk: what the
// replica does), 4 and 8 MiB, and for the whole blob in one transaction, and
// the longest write transaction of the store (the time
// it kept commits waiting). The graph is built once.
func BenchmarkSegmentStoreCommitLatency(b *testing.B) {
	const n, dim = 10_000, 128
	rng := rand.New(rand.NewPCG(1, 2))
	slab := make([]float32, n*dim)
	for i := range slab {
		slab[i] = float32(rng.NormFloat64())
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08d", i)
	}
	m, _ := distance.For(shoalv1.Distance_DISTANCE_DOT)
	g, err := hnsw.Build(context.Background(), hnsw.Config{}.WithDefaults(), m, dim, keys, hnsw.Slab(slab, dim), 0)
	if err != nil {
		b.Fatal(err)
	}
	seg := g.Marshal()
	// A merged segment can be far larger (up to max_segment_size): its
	// contents do not matter to the store.
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, c := range []struct {
		name  string
		blob  []byte
		chunk int // 0: no blob write, 100 ms of commits alone (the baseline)
	}{
		{"baseline", seg, 0},
		{"10kx128/chunks-of-1MiB", seg, segmentChunk},
		{"10kx128/one-tx", seg, len(seg)},
		{"64MiB/chunks-of-1MiB", big, segmentChunk},
		{"64MiB/chunks-of-4MiB", big, 4 << 20},
		{"64MiB/chunks-of-8MiB", big, 8 << 20},
		{"64MiB/one-tx", big, len(big)},
	} {
		blob, chunk := c.blob, c.chunk
		b.Run(c.name, func(b *testing.B) {
			r, _ := openTest(b, single(dim, shoalv1.Distance_DISTANCE_DOT), Options{})
			store, err := openSegStore(r.db, "bench")
			if err != nil {
				b.Fatal(err)
			}
			store.chunk = chunk
			if chunk > 0 {
				// Warm up: grow the file once, so that growth is not measured.
				if err := store.Apply(context.Background(), map[string][]byte{blobName(0): blob}, nil); err != nil {
					b.Fatal(err)
				}
				if err := store.Apply(context.Background(), nil, []string{blobName(0)}); err != nil {
					b.Fatal(err)
				}
			}
			var longest time.Duration
			store.onTx = func(d time.Duration) { longest = max(longest, d) }
			var next atomic.Uint64
			var lat []time.Duration
			for b.Loop() {
				probe := startCommitProbe(b, r, next.Add(1<<32))
				time.Sleep(20 * time.Millisecond) // let the probe reach its pace
				if chunk == 0 {
					time.Sleep(100 * time.Millisecond)
					lat = append(lat, probe.finish()...)
					continue
				}
				name := blobName(next.Add(1))
				if err := store.Apply(context.Background(), map[string][]byte{name: blob}, nil); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, probe.finish()...)
				if err := store.Apply(context.Background(), nil, []string{name}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(blob))/1e6, "blob-MB")
			b.ReportMetric(float64(longest.Microseconds())/1000, "max-tx-ms")
			reportLatencies(b, lat)
		})
	}
}

// blobName mirrors segment's blob names (16 hex digits).
func blobName(id uint64) string { return fmt.Sprintf("%016x", id) }

// BenchmarkSealWhileWriting seals a 10 000 × 128 appendable segment in
// the background (HNSW build on every core, then the chunked blob write)
// while single-point upserts commit, and reports their worst and
// 99th-percentile latency during the seal: the build's CPU use included.
func BenchmarkSealWhileWriting(b *testing.B) {
	const n, dim = 10_000, 128
	cfg := single(dim, shoalv1.Distance_DISTANCE_DOT)
	// 5000 KB = 10 000 vectors of 128 floats: the 10 001st seals.
	cfg.ExtraJson = []byte(`{"optimizers_config":{"indexing_threshold":5000}}`)
	rng := rand.New(rand.NewPCG(3, 4))
	var lat []time.Duration
	for b.Loop() {
		b.StopTimer()
		r, _ := openTest(b, cfg, Options{})
		for start := 0; start < n; start += 1000 {
			var pts []*shoalv1.Point
			for i := start; i < start+1000; i++ {
				v := make([]float32, dim)
				for j := range v {
					v[j] = float32(rng.NormFloat64())
				}
				pts = append(pts, point(uint64(i), ``, map[string][]float32{"": v}))
			}
			if _, err := r.Apply(context.Background(), upsertOp(pts...), true); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		probe := startCommitProbe(b, r, 1<<32)
		// The probe's first upsert passes the threshold; Optimize waits
		// for the background seal (or runs it).
		for r.SegmentStats()[""].Plain <= n {
			time.Sleep(time.Millisecond)
		}
		if err := r.Optimize(context.Background()); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, probe.finish()...)
		if st := r.SegmentStats()[""]; st.Indexed < n {
			b.Fatalf("not sealed: %+v", st)
		}
		b.StopTimer()
		r.Close()
		b.StartTimer()
	}
	reportLatencies(b, lat)
}
