package hnsw

import (
	"sync/atomic"
	"unsafe"
)

// Filtered search on layer 0.
//
// The plain walk (searchLayer with accept) scores every node it reaches
// and keeps expanding rejected ones until it holds ef accepted nodes, so
// at 10 % selectivity it scores about ten times the vectors an unfiltered
// search does. searchFiltered scores only acceptable nodes: a candidate's
// acceptable neighbours are taken directly, and its rejected neighbours
// serve as bridges whose own acceptable neighbours are taken in their
// place (two hops), up to m0 per expansion. The walk then moves over the
// subgraph of matching points, scoring about as many vectors as an
// unfiltered search of that subgraph would. Whether a node is acceptable
// is asked once per search (s.checked / s.passed memoise the answer).
//
// When the matching points are too sparse for two hops to connect them,
// the walk may end with fewer than the k results asked for; searchNodes
// then falls back to the plain walk, which reaches every node.

// sparseAround reports whether fewer than a quarter of the layer-0
// neighbours of id (the walk's entry on layer 0, so near the query) pass
// accept: there the two-hop walk scores far fewer vectors than the plain
// one. Where matches are denser the plain walk, which asks the filter
// only about nodes close enough to enter the results, is cheaper.
func (g *Graph) sparseAround(id uint32, accept func(uint32) bool) bool {
	lst := g.list(id, 0)
	n := min(int(atomic.LoadUint32(&lst[0])), len(lst)-1)
	passed := 0
	for j := 1; j <= n; j++ {
		if accept(atomic.LoadUint32(&lst[j])) {
			passed++
		}
	}
	return passed*4 < n
}

// ensureFilterMarks sizes the memo arrays for the graph's capacity.
func (s *searcher) ensureFilterMarks(capacity int) {
	if len(s.checked) < capacity {
		s.checked = make([]uint16, capacity)
		s.passed = make([]uint16, capacity)
	}
}

// searchFiltered is searchLayer on layer 0 for a walk with a filter:
// accept (and the tombstones) decide which nodes may enter the results,
// and only those are scored. ep is the entry point with its distance; it
// is expanded even when rejected. The result, closest first, is appended
// to s.out[:0]. The caller holds grow shared.
func (g *Graph) searchFiltered(s *searcher, q []float32, ep cand, ef int, accept func(uint32) bool) (res0 []cand, reliable bool) {
	s.nextMark()
	s.ensureFilterMarks(len(s.visited))
	vis, mark := s.visited, s.mark
	checked, passed := s.checked, s.passed
	if mark == 1 { // nextMark wrapped or the arrays are new: forget old answers
		clear(checked)
		clear(passed)
	}
	checkDead := g.deleted.Load() > 0
	nChecked, nPassed := 0, 0
	ok := func(id uint32) bool {
		if checked[id] != mark {
			checked[id] = mark
			nChecked++
			if !(checkDead && g.dead.has(id)) && (accept == nil || accept(id)) {
				passed[id] = mark
				nPassed++
			}
		}
		return passed[id] == mark
	}
	cands, res := s.cands[:0], s.res[:0]
	vis[ep.id] = mark
	cands.push(ep)
	if ok(ep.id) {
		res.push(ep)
	}
	dim, vecs, dist, m0 := g.dim, g.vecs, g.sp.dist, g.m0
	bridges := s.tmpIDs[:0]
	for len(cands) > 0 {
		c := cands.pop()
		if len(res) >= ef && c.d > res[0].d {
			break
		}
		if nChecked >= sparseProbe && nPassed*sparseRatio < nChecked {
			// Already unreliable: leave the rest to the plain walk.
			s.tmpIDs, s.cands, s.res = bridges, cands, res
			return nil, false
		}
		lst := g.list(c.id, 0)
		n := min(int(atomic.LoadUint32(&lst[0])), len(lst)-1)
		batch := s.batch[:0]
		bridges = bridges[:0]
		for j := 1; j <= n; j++ {
			nb := atomic.LoadUint32(&lst[j])
			if vis[nb] == mark {
				continue
			}
			vis[nb] = mark
			if ok(nb) {
				batch = append(batch, nb)
			} else {
				bridges = append(bridges, nb)
			}
		}
		// Bridges only where the neighbourhood is sparse in matches: with a
		// quarter or more of the neighbours acceptable, the rejected ones
		// are scored and walked through as the plain walk does (each
		// bridge would cost a link-list read, and dropping them loses
		// recall).
		if len(batch)*4 >= n {
			batch = append(batch, bridges...)
			bridges = bridges[:0]
		}
		for _, b := range bridges {
			if len(batch) >= m0 {
				break
			}
			bl := g.list(b, 0)
			bn := min(int(atomic.LoadUint32(&bl[0])), len(bl)-1)
			for j := 1; j <= bn && len(batch) < m0; j++ {
				nb := atomic.LoadUint32(&bl[j])
				// A rejected node met two hops away is left unvisited: it
				// may still bridge from a later candidate.
				if vis[nb] == mark || !ok(nb) {
					continue
				}
				vis[nb] = mark
				batch = append(batch, nb)
			}
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
				if passed[nb] == mark {
					res.pushBounded(cand{d, nb}, ef)
				}
			}
		}
		if len(cands) > 0 {
			prefetch(unsafe.Pointer(&g.list(cands[0].id, 0)[0]))
		}
	}
	s.tmpIDs = bridges
	s.cands, s.res = cands, res
	s.out = s.res.drainSorted(s.out[:0])
	return s.out, nPassed*sparseRatio >= nChecked
}

// sparseRatio: a filtered walk that found fewer than one acceptable node
// in sparseRatio of those it checked reports its result as unreliable
// (the matching points are too sparse for two hops to connect them).
// The walk gives up as soon as sparseProbe checks show that ratio.
const (
	sparseRatio = 20
	sparseProbe = 512
)
