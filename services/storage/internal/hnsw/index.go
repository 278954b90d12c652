package hnsw

import (
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

var _ index.VectorIndex = (*Graph)(nil)

// Upsert implements index.VectorIndex: it is Add.
func (g *Graph) Upsert(key string, vec []float32) { g.Add(key, vec) }

// Search implements index.VectorIndex. The search list is max(p.Ef, k),
// with p.Ef = 0 meaning EfConstruct (Qdrant's default). It is exact when
// p.Exact is set or when the graph holds no more live points than the
// search list (a walk would score them all anyway). Scores are the
// metric's (bit-for-bit those of index.Flat); hits that fail p.Threshold
// are dropped after the search, and p.Accept is checked during the walk:
// where fewer than a quarter of the layer-0 entry's neighbours pass it,
// the two-hop walk that scores only accepted nodes (searchFiltered), with
// the plain walk as the fallback when matches prove too sparse for it;
// otherwise the plain walk.
func (g *Graph) Search(query []float32, k int, p index.SearchParams) []index.Hit {
	if k <= 0 || len(query) != g.dim {
		return nil
	}
	ef := p.Ef
	if ef <= 0 {
		ef = g.cfg.EfConstruct
	}
	g.grow.RLock()
	defer g.grow.RUnlock()
	if p.Exact || g.Len() <= max(ef, k) {
		return g.exact(query, k, p)
	}
	var accept func(uint32) bool
	if p.Accept != nil {
		accept = func(id uint32) bool { return p.Accept(g.keys[id]) }
	}
	s := g.getSearcher()
	res := g.searchNodes(s, query, k, ef, accept)
	hits := g.hitsOf(res, p.Threshold)
	g.putSearcher(s)
	// Equal scores are ordered by key, as in every index; searchNodes
	// returned every node tied with the k-th, so the cut is by key too.
	return g.sortCut(hits, k)
}

// exact scores every live point like index.Flat. The caller holds grow
// shared.
func (g *Graph) exact(query []float32, k int, p index.SearchParams) []index.Hit {
	top := index.NewTopK(k, g.metric)
	n := g.nodes.Load()
	for id := range n {
		if !g.ready.has(id) || g.dead.has(id) {
			continue
		}
		score := g.metric.Score(query, g.vec(id))
		if p.Threshold != nil && !g.metric.Passes(score, *p.Threshold) {
			continue
		}
		if !top.Admits(score) {
			continue
		}
		key := g.keys[id]
		if p.Accept != nil && !p.Accept(key) {
			continue
		}
		top.Push(index.Hit{Key: key, Score: score})
	}
	return top.Sorted()
}
