package hnsw

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// dataset is n random vectors (a mixture of Gaussian clusters, which is
// harder for HNSW than uniform noise) keyed "p00000"...
type dataset struct {
	metric  distance.Metric
	dim     int
	keys    []string
	vecs    []float32
	centers [][]float32
}

func makeDataset(t testing.TB, d shoalv1.Distance, n, dim int, seed uint64) dataset {
	t.Helper()
	m, err := distance.For(d)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, seed+1))
	centers := make([][]float32, 20)
	for i := range centers {
		centers[i] = make([]float32, dim)
		for j := range centers[i] {
			centers[i][j] = float32(r.NormFloat64() * 1.5)
		}
	}
	ds := dataset{metric: m, dim: dim, centers: centers}
	for i := range n {
		ds.keys = append(ds.keys, fmt.Sprintf("p%05d", i))
		ds.vecs = append(ds.vecs, ds.sample(r)...)
	}
	return ds
}

// sample draws a prepared vector from the mixture.
func (ds dataset) sample(r *rand.Rand) []float32 {
	c := ds.centers[r.IntN(len(ds.centers))]
	v := make([]float32, ds.dim)
	for j := range v {
		v[j] = c[j] + float32(r.NormFloat64())
	}
	return ds.metric.Prepare(v)
}

func (ds dataset) vec(i int) []float32 { return ds.vecs[i*ds.dim : (i+1)*ds.dim] }

// query draws a fresh point of the same mixture.
func (ds dataset) query(r *rand.Rand) []float32 { return ds.sample(r) }

// flat is the exact reference over the live points of ds.
func (ds dataset) flat(live func(i int) bool) *index.Flat {
	f := index.NewFlat(ds.metric, ds.dim)
	for i, k := range ds.keys {
		if live == nil || live(i) {
			f.Upsert(k, ds.vec(i))
		}
	}
	return f
}

func build(t testing.TB, cfg Config, ds dataset, workers int) *Graph {
	t.Helper()
	g, err := Build(context.Background(), cfg, ds.metric, ds.dim, ds.keys, Slab(ds.vecs, ds.dim), workers)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// recall is the fraction of want's keys found in got.
func recall(got, want []index.Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	in := map[string]bool{}
	for _, h := range got {
		in[h.Key] = true
	}
	n := 0
	for _, h := range want {
		if in[h.Key] {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

// meanRecall runs nq queries against g and the reference.
func meanRecall(ds dataset, g index.VectorIndex, ref *index.Flat, nq, k int, p index.SearchParams, seed uint64) float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	var sum float64
	for range nq {
		q := ds.query(r)
		sum += recall(g.Search(q, k, p), ref.Search(q, k, index.SearchParams{Accept: p.Accept}))
	}
	return sum / float64(nq)
}
