package hnsw

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// Micro-benchmarks (go test -run x -bench . ./internal/hnsw/); the
// comparison with hnswlib is cmd/shoal-bench with scripts/bench/run.

func BenchmarkBuild(b *testing.B) {
	ds := makeDataset(b, shoalv1.Distance_DISTANCE_EUCLID, 10000, 128, 1)
	for _, workers := range []int{1, 0} {
		b.Run(fmt.Sprintf("10k×128/workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				if _, err := Build(context.Background(), Config{}, ds.metric, ds.dim, ds.keys, Slab(ds.vecs, ds.dim), workers); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(ds.keys))/b.Elapsed().Seconds(), "points/s")
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	ds := makeDataset(b, shoalv1.Distance_DISTANCE_EUCLID, 10000, 128, 2)
	g, err := New(Config{}, ds.metric, ds.dim, 0)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		g.Add(fmt.Sprint(i), ds.vec(i%len(ds.keys)))
		i++
	}
}

func BenchmarkSearch(b *testing.B) {
	ds := makeDataset(b, shoalv1.Distance_DISTANCE_EUCLID, 20000, 128, 3)
	g := build(b, Config{}, ds, 0)
	r := rand.New(rand.NewPCG(4, 4))
	qs := make([][]float32, 256)
	for i := range qs {
		qs[i] = ds.query(r)
	}
	for _, ef := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("20k×128/ef=%d", ef), func(b *testing.B) {
			i := 0
			for b.Loop() {
				g.Search(qs[i%len(qs)], 10, index.SearchParams{Ef: ef})
				i++
			}
		})
	}
	b.Run("20k×128/filter-10%", func(b *testing.B) {
		accept := func(k string) bool { return k[len(k)-1] == '7' }
		i := 0
		for b.Loop() {
			g.Search(qs[i%len(qs)], 10, index.SearchParams{Ef: 64, Accept: accept})
			i++
		}
	})
}
