package hnsw

import (
	"sync/atomic"
	"unsafe"
)

// searcher is the scratch state of one search or insert, pooled per graph.
type searcher struct {
	visited []uint16 // visited[id] == mark: seen in this search
	mark    uint16
	cands   minHeap
	res     maxHeap
	out     []cand
	sel     []cand // neighbour selection output
	pruned  []cand // neighbour selection leftovers
	tmp     []cand // candidates of a neighbour list being shrunk
	picks   []pick // the new node's chosen neighbours on every layer
	batch   []uint32
	tmpIDs  []uint32 // a filtered walk's rejected neighbours (bridges)
	checked []uint16 // checked[id] == mark: the filter was asked about id
	passed  []uint16 // passed[id] == mark: and accepted it
}

// getSearcher returns pooled scratch state sized for the current capacity;
// the caller holds grow shared.
func (g *Graph) getSearcher() *searcher {
	s, _ := g.searchers.Get().(*searcher)
	if s == nil {
		s = &searcher{}
	}
	if len(s.visited) < g.capacity {
		s.visited = make([]uint16, g.capacity)
		s.mark = 0
	}
	return s
}

// nextMark starts a new visited set.
func (s *searcher) nextMark() {
	s.mark++
	if s.mark == 0 { // wrapped: old marks could collide
		clear(s.visited)
		s.mark = 1
	}
}

func (g *Graph) putSearcher(s *searcher) { g.searchers.Put(s) }

// greedy walks layer level from cur towards q, moving to the closest
// neighbour while that improves, and returns the local minimum.
func (g *Graph) greedy(q []float32, cur uint32, curD float32, level int) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		lst := g.list(cur, level)
		n := min(int(atomic.LoadUint32(&lst[0])), len(lst)-1)
		for j := 1; j <= min(n, vecAhead); j++ {
			g.prefetchNode(atomic.LoadUint32(&lst[j]))
		}
		for j := 1; j <= n; j++ {
			nb := atomic.LoadUint32(&lst[j])
			if j+vecAhead <= n {
				g.prefetchNode(atomic.LoadUint32(&lst[j+vecAhead]))
			}
			if d := g.sp.dist(q, g.vec(nb)); d < curD {
				cur, curD, changed = nb, d, true
			}
		}
	}
	return cur, curD
}

// searchLayer is the paper's SEARCH-LAYER: a best-first walk of layer
// level from ep keeping the ef closest acceptable nodes. A node is
// acceptable when it is not a tombstone (unless withDead) and accept, if
// set, allows it; every node is walked through either way, so filters and
// deletes never disconnect the graph. The result, closest first, is
// appended to s.out[:0] and returned. The caller holds grow shared.
func (g *Graph) searchLayer(s *searcher, q []float32, ep cand, ef, level int, accept func(uint32) bool, withDead bool) []cand {
	s.nextMark()
	vis, mark := s.visited, s.mark
	cands, res := s.cands[:0], s.res[:0]
	checkDead := !withDead && g.deleted.Load() > 0
	filtered := checkDead || accept != nil
	ok := func(id uint32) bool {
		return !(checkDead && g.dead.has(id)) && (accept == nil || accept(id))
	}
	vis[ep.id] = mark
	cands.push(ep)
	if !filtered || ok(ep.id) {
		res.push(ep)
	}
	dim := g.dim
	vecs := g.vecs
	dist := g.sp.dist
	for len(cands) > 0 {
		c := cands.pop()
		if len(res) >= ef && c.d > res[0].d {
			break
		}
		// The next candidate is likely the one now on top: start
		// fetching its list a whole hop before it is needed.
		if len(cands) > 0 {
			prefetch(unsafe.Pointer(&g.list(cands[0].id, level)[0]))
		}
		// Collect the unvisited neighbours first, then score them in
		// order while prefetching whole vectors vecAhead neighbours ahead
		// (see prefetchVec).
		lst := g.list(c.id, level)
		n := min(int(atomic.LoadUint32(&lst[0])), len(lst)-1)
		batch := s.batch[:0]
		for j := 1; j <= n; j++ {
			nb := atomic.LoadUint32(&lst[j])
			if vis[nb] == mark {
				continue
			}
			vis[nb] = mark
			batch = append(batch, nb)
		}
		s.batch = batch
		for _, nb := range batch[:min(vecAhead, len(batch))] {
			prefetchVec(unsafe.Pointer(&vecs[int(nb)*dim]), dim)
		}
		for x, nb := range batch {
			if x+vecAhead < len(batch) {
				prefetchVec(unsafe.Pointer(&vecs[int(batch[x+vecAhead])*dim]), dim)
			}
			o := int(nb) * dim
			d := dist(q, vecs[o:o+dim:o+dim])
			if len(res) < ef || d < res[0].d {
				cands.push(cand{d, nb})
				if !filtered || ok(nb) {
					res.pushBounded(cand{d, nb}, ef)
				}
			}
		}
		// New neighbours may have displaced the top: prefetch the list
		// of the candidate that will be expanded next.
		if len(cands) > 0 {
			prefetch(unsafe.Pointer(&g.list(cands[0].id, level)[0]))
		}
	}
	s.cands, s.res = cands, res
	s.out = s.res.drainSorted(s.out[:0])
	return s.out
}

// searchNodes returns up to k acceptable live nodes closest to q, closest
// first, using a search list of max(ef, k), plus any further nodes that
// tie with the k-th (so the caller can break ties by key). With accept,
// the walk is the two-hop walk where matches are sparse around the
// layer-0 entry and the plain walk where they are dense (there the plain
// walk was measured faster than walking matches only, which needs a
// larger search list for the same recall). The caller holds grow shared
// and must copy the result before releasing s.
func (g *Graph) searchNodes(s *searcher, q []float32, k, ef int, accept func(uint32) bool) []cand {
	ep := g.entry.Load()
	if ep == noEntry || k <= 0 {
		return nil
	}
	cur, top := uint32(ep), int(ep>>32)
	curD := g.sp.dist(q, g.vec(cur))
	for l := top; l > 0; l-- {
		cur, curD = g.greedy(q, cur, curD, l)
	}
	var res []cand
	if accept != nil && g.sparseAround(cur, accept) {
		var reliable bool
		res, reliable = g.searchFiltered(s, q, cand{curD, cur}, max(ef, k), accept)
		if !reliable || len(res) < k {
			// Too sparse for the two-hop walk to gather k: walk every node.
			res = g.searchLayer(s, q, cand{curD, cur}, max(ef, k), 0, accept, false)
		}
	} else {
		res = g.searchLayer(s, q, cand{curD, cur}, max(ef, k), 0, accept, false)
	}
	return cutTies(res, k)
}

// cutTies keeps the first k of res (closest first) and any further ones
// that tie with the k-th, so the caller can break ties by key.
func cutTies(res []cand, k int) []cand {
	if len(res) <= k {
		return res
	}
	cut := k
	for cut < len(res) && res[cut].d == res[k-1].d {
		cut++
	}
	return res[:cut]
}

// vecAhead is how many vectors ahead of the one being scored a walk
// prefetches. Measured on Fashion-MNIST (784 floats, 49 cache lines per
// vector): 3 and 4 tie, ahead of 1, 2, 6 and 8, and every one of them
// beats prefetching only the first two lines of each neighbour by
// 1.3-1.6x in queries per second.
const vecAhead = 3

// prefetchVec asks for every cache line of the dim floats at p. A scored
// vector is read front to back and the hardware prefetcher only follows
// a stream once it has seen a few misses, so without this a 784-float
// vector costs several memory round trips; with it, the lines of the next
// few vectors are in flight while the current one is scored. Vectors of
// up to 1 KiB take one call that issues every line; longer ones one call
// per two lines, which spaces the requests out: on 784 floats that
// measured 5-16 % faster than issuing all 49 back to back, while on 128
// floats the single call is 3-5 % faster.
func prefetchVec(p unsafe.Pointer, dim int) {
	n := dim * 4
	if n <= 1024 {
		prefetchBytes(p, n)
		return
	}
	for o := 0; o < n; o += 128 {
		prefetch(unsafe.Add(p, o))
	}
}

// prefetchNode prefetches node id's vector; the caller holds grow shared.
func (g *Graph) prefetchNode(id uint32) {
	prefetchVec(unsafe.Pointer(&g.vecs[int(id)*g.dim]), g.dim)
}
