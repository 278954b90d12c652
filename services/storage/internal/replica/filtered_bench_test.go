package replica

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// BenchmarkFilteredSearch measures a replica's search (Replica.Search, the
// storage node's path) without a filter and with filters of 1, 10 and
// 50 % selectivity, over SHOAL_BENCH_FILTER_N points (default 50 000) of
// 128 dimensions from a Gaussian mixture, sealed into one HNSW segment
// (m 16, ef_construct 100, hnsw_ef 64, limit 10). Each point carries a
// label 0..99 (shuffled, independent of its cluster) and band10 =
// label/10, band50 = label/50, all three with integer indexes created
// before ingest, so sealing links band10's and band50's values (label's
// 1 % groups are below full_scan_threshold, 1000 KB = 2000 points).
// Sub-benchmarks: "none", "match-1%" (label = 0: the planner scores the
// matches exactly), "match-10%" / "match-50%" (band = 0: walks through
// the value's links), "range-10%" / "range-50%" (label < 10 / 50: no
// value links; as a frequent filter its matches get links of their own).
// Each filter is asked 80 times and the optimizer run before the timer
// starts, so the cached node sets and a frequent filter's links are in
// place: this is the steady state of a repeated filter.
func BenchmarkFilteredSearch(b *testing.B) {
	n := 50_000
	if s := os.Getenv("SHOAL_BENCH_FILTER_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	const dim = 128
	cfg := single(dim, shoalv1.Distance_DISTANCE_EUCLID)
	// Sealed once the appendable segment passes n-20 vectors.
	cfg.ExtraJson = []byte(fmt.Sprintf(`{"hnsw_config":{"m":16,"ef_construct":100,"full_scan_threshold":1000},`+
		`"optimizers_config":{"indexing_threshold":%d,"default_segment_number":1}}`, (n-20)*dim*4/1024))
	r, _ := openTest(b, cfg, Options{})
	for _, f := range []string{"label", "band10", "band50"} {
		if _, err := r.Apply(context.Background(), createIndexOp(f, `"integer"`), true); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(17, 2))
	centers := make([][]float32, 64)
	for i := range centers {
		centers[i] = make([]float32, dim)
		for j := range centers[i] {
			centers[i][j] = float32(rng.NormFloat64() * 3)
		}
	}
	sample := func() []float32 {
		c := centers[rng.IntN(len(centers))]
		v := make([]float32, dim)
		for j := range v {
			v[j] = c[j] + float32(rng.NormFloat64())
		}
		return v
	}
	labels := rng.Perm(n)
	for start := 0; start < n; start += 1000 {
		var pts []*shoalv1.Point
		for i := start; i < min(n, start+1000); i++ {
			l := labels[i] % 100
			pts = append(pts, point(uint64(i), fmt.Sprintf(`{"label":%d,"band10":%d,"band50":%d}`, l, l/10, l/50), map[string][]float32{"": sample()}))
		}
		if _, err := r.Apply(context.Background(), upsertOp(pts...), true); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Optimize(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := r.SegmentStats()[""]
	b.Logf("segments: %d, indexed %d, plain %d, linked %d", st.Segments, st.Indexed, st.Plain, st.GroupLinked)
	queries := make([][]float32, 256)
	for i := range queries {
		queries[i] = sample()
	}
	for _, c := range []struct{ name, filter string }{
		{"none", ""},
		{"match-1%", `{"must":[{"key":"label","match":{"value":0}}]}`},
		{"match-10%", `{"must":[{"key":"band10","match":{"value":0}}]}`},
		{"match-50%", `{"must":[{"key":"band50","match":{"value":0}}]}`},
		{"range-10%", `{"must":[{"key":"label","range":{"lt":10}}]}`},
		{"range-50%", `{"must":[{"key":"label","range":{"lt":50}}]}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := func(i int) *shoalv1.SearchRequest {
				req := &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: queries[i%len(queries)]}, Limit: 10, HnswEf: 64}
				if c.filter != "" {
					req.Filter = []byte(c.filter)
				}
				return req
			}
			// Warm up past the filter links' threshold and let the
			// optimizer link a frequent filter's matches.
			for i := range 80 {
				if _, err := r.Search(context.Background(), req(i)); err != nil {
					b.Fatal(err)
				}
			}
			if err := r.Optimize(context.Background()); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				if _, err := r.Search(context.Background(), req(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
