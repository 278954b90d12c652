package hnsw

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

// Build indexes keys, key i having vector vec(i), using workers
// goroutines (<= 0: GOMAXPROCS). Vectors are copied (vec is called once
// per key, before the parallel phase) and must already be prepared for
// metric (normalised for Cosine). Keys must be distinct. Build stops early
// with ctx's error when ctx ends.
func Build(ctx context.Context, cfg Config, metric distance.Metric, dim int, keys []string, vec func(i int) []float32, workers int) (*Graph, error) {
	g, err := New(cfg, metric, dim, len(keys))
	if err != nil {
		return nil, err
	}
	// Allocation is sequential and cheap (copies and level draws), so
	// node i is key i and the level sequence follows the seed.
	for i, key := range keys {
		if _, dup := g.ids[key]; dup {
			return nil, fmt.Errorf("hnsw: build: duplicate key %q", key)
		}
		v := vec(i)
		if len(v) != dim {
			return nil, fmt.Errorf("hnsw: build: key %q has %d dimensions, want %d", key, len(v), dim)
		}
		if _, ok := g.alloc(key, v, -1); !ok {
			return nil, fmt.Errorf("hnsw: build: capacity exhausted")
		}
	}
	if len(keys) == 0 {
		return g, nil
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(keys))
	// The first nodes go in one at a time: inserted concurrently into a
	// graph of a handful of nodes they would not see each other, link
	// only to the first node, and could lose that edge to its pruning.
	warm := min(len(keys), g.cfg.EfConstruct)
	s := g.getSearcher()
	for id := range uint32(warm) {
		g.insert(s, id)
	}
	g.putSearcher(s)

	var next atomic.Uint32
	next.Store(uint32(warm))
	n := uint32(len(keys))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.grow.RLock()
			defer g.grow.RUnlock()
			s := g.getSearcher()
			defer g.putSearcher(s)
			for i := 0; ; i++ {
				if i%256 == 0 && ctx.Err() != nil {
					return
				}
				id := next.Add(1) - 1
				if id >= n {
					return
				}
				g.insert(s, id)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hnsw: build: %w", err)
	}
	return g, nil
}

// Slab adapts a slab of len(keys)*dim floats (key i's vector at i*dim) to
// Build's vector accessor.
func Slab(vecs []float32, dim int) func(i int) []float32 {
	return func(i int) []float32 { return vecs[i*dim : (i+1)*dim] }
}
