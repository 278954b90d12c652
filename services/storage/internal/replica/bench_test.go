package replica

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// BenchmarkApplyParallel measures group-committed single-point upserts
// from many goroutines (run with -cpu to vary the writers).
func BenchmarkApplyParallel(b *testing.B) {
	r, _ := openTest(b, single(128, shoalv1.Distance_DISTANCE_COSINE), Options{})
	var next atomic.Uint64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(next.Add(1), 0))
		v := make([]float32, 128)
		for pb.Next() {
			for i := range v {
				v[i] = rng.Float32()
			}
			if _, err := r.Apply(context.Background(), upsertOp(point(next.Add(1), `{"k":"v"}`, map[string][]float32{"": v})), true); err != nil {
				b.Error(err)
				return
			}
		}
	})
	st := r.Stats()
	b.ReportMetric(float64(st.Ops)/float64(st.Commits), "ops/commit")
}

// BenchmarkSearch10k measures an exact top-10 search over 10 000 vectors
// of 128 dimensions.
func BenchmarkSearch10k(b *testing.B) {
	r, _ := openTest(b, single(128, shoalv1.Distance_DISTANCE_DOT), Options{})
	rng := rand.New(rand.NewPCG(1, 1))
	vec := func() []float32 {
		v := make([]float32, 128)
		for i := range v {
			v[i] = rng.Float32()
		}
		return v
	}
	for batch := range 10 {
		var pts []*shoalv1.Point
		for i := range 1000 {
			pts = append(pts, point(uint64(batch*1000+i), ``, map[string][]float32{"": vec()}))
		}
		if _, err := r.Apply(context.Background(), upsertOp(pts...), true); err != nil {
			b.Fatal(err)
		}
	}
	req := &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: vec()}, Limit: 10}
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Search(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
