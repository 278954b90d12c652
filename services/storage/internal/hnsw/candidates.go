package hnsw

import (
	"unsafe"

	"github.com/shoaldb/shoal/services/storage/internal/index"
)

var _ index.CandidateScorer = (*Graph)(nil)

// ScoreKeys implements index.CandidateScorer: the live points among keys
// are scored exactly. The keys are resolved to nodes under one lock, then
// scored in the order given with whole vectors prefetched vecAhead
// candidates ahead.
// Scores are bit-for-bit those of Search and index.Flat; p.Accept is
// asked only about candidates that could enter the k best.
func (g *Graph) ScoreKeys(query []float32, k int, keys []string, p index.SearchParams) []index.Hit {
	if k <= 0 || len(query) != g.dim {
		return nil
	}
	g.grow.RLock()
	defer g.grow.RUnlock()
	s := g.getSearcher()
	defer g.putSearcher(s)
	ids := s.batch[:0]
	g.keyMu.Lock()
	for _, key := range keys {
		if id, ok := g.ids[key]; ok { // ids holds live, written nodes only
			ids = append(ids, id)
		}
	}
	g.keyMu.Unlock()
	s.batch = ids
	return g.scoreIDs(query, k, ids, p)
}

// scoreIDs scores the live nodes ids exactly, in the order given, with
// whole vectors prefetched vecAhead candidates ahead: up to k hits, best
// first, equal scores by key; p.Accept is asked only about candidates
// that could enter the k best. The caller holds grow shared.
func (g *Graph) scoreIDs(query []float32, k int, ids []uint32, p index.SearchParams) []index.Hit {
	top := index.NewTopK(k, g.metric)
	dim, vecs, dist := g.dim, g.vecs, g.sp.dist
	// Once k hits are held, a candidate whose first pre coordinates are
	// already farther than the k-th cannot enter, and the rest of its
	// vector is never read; one that passes is summed in two parts and
	// only scored in one piece (bit-for-bit the metric's score) when that
	// sum is within the k-th. The comparisons allow a margin for the
	// rounding difference between the two ways of summing.
	pre := 0
	if g.sp.prefixBound && dim >= 4*prefixMin {
		pre = (dim/2 + 15) &^ 15
	}
	var cut float32 // a prefix distance above cut drops the candidate
	full := false
	for _, id := range ids[:min(vecAhead, len(ids))] {
		prefetchVec(unsafe.Pointer(&vecs[int(id)*dim]), dim)
	}
	for x, id := range ids {
		if x+vecAhead < len(ids) {
			// Once the prefix test is on, most candidates are dropped
			// after their first pre coordinates: fetch only those.
			ahead := dim
			if full {
				ahead = pre
			}
			prefetchVec(unsafe.Pointer(&vecs[int(ids[x+vecAhead])*dim]), ahead)
		}
		o := int(id) * dim
		v := vecs[o : o+dim : o+dim]
		if full {
			d1 := dist(query[:pre], v[:pre])
			if d1 > cut || d1+dist(query[pre:], v[pre:]) > cut {
				continue
			}
		}
		d := dist(query, v)
		score := g.sp.score(d)
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
		if pre > 0 && top.Full() {
			full = true
			cut = g.sp.dist0(top.Worst().Score) * (1 + prefixMargin)
		}
	}
	return top.Sorted()
}

// prefixMin is the shortest prefix worth a separate pass; prefixMargin the
// relative slack on the k-th distance, far above the rounding difference
// between summing a prefix and the whole vector in different orders.
const (
	prefixMin    = 64
	prefixMargin = 1e-3
)
