package hnsw

import (
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// TestRecall is a correctness floor, not a speed test: recall@10 against
// brute force on 5k clustered vectors of dimension 32 at ef 64, for every
// metric and both neighbour-selection variants.
func TestRecall(t *testing.T) {
	f := func(d shoalv1.Distance, cfg Config, workers int) {
		t.Helper()
		ds := makeDataset(t, d, 5000, 32, 11)
		g := build(t, cfg, ds, workers)
		if g.Len() != 5000 {
			t.Fatalf("Len = %d", g.Len())
		}
		got := meanRecall(ds, g, ds.flat(nil), 200, 10, index.SearchParams{Ef: 64}, 3)
		t.Logf("%v %+v workers=%d: recall@10 = %.4f", d, cfg, workers, got)
		if got < 0.95 {
			t.Fatalf("%v %+v: recall@10 = %.4f < 0.95", d, cfg, got)
		}
	}
	f(shoalv1.Distance_DISTANCE_EUCLID, Config{}, 0)
	if raceEnabled {
		return // the concurrency tests cover the race detector
	}
	f(shoalv1.Distance_DISTANCE_COSINE, Config{}, 0)
	f(shoalv1.Distance_DISTANCE_DOT, Config{}, 1)
	f(shoalv1.Distance_DISTANCE_MANHATTAN, Config{}, 0)
	f(shoalv1.Distance_DISTANCE_EUCLID, Config{M: 8, EfConstruct: 64, KeepPruned: true}, 0)
}
