package hnsw

import (
	"slices"
	"sync/atomic"
)

// Add inserts key with vector vec (copied; len(vec) must be Dim). A key
// already present gets a new node and its old one becomes a tombstone.
// Add may run concurrently with Add, Delete and Search.
func (g *Graph) Add(key string, vec []float32) {
	g.add(key, vec, -1)
}

// add inserts with a given level (< 0: draw one).
func (g *Graph) add(key string, vec []float32, level int) {
	if len(vec) != g.dim {
		panic("hnsw: vector length does not match the graph dimension")
	}
	for {
		g.grow.RLock()
		id, ok := g.alloc(key, vec, level)
		if ok {
			s := g.getSearcher()
			g.insert(s, id)
			g.putSearcher(s)
			g.grow.RUnlock()
			return
		}
		g.grow.RUnlock()
		g.growFor(int(g.nodes.Load()) + 1)
	}
}

// insert links an allocated node into the graph (the paper's INSERT).
// The caller holds grow shared.
func (g *Graph) insert(s *searcher, id uint32) {
	level := int(g.levels[id])
	q := g.vec(id)

	ep := g.entry.Load()
	holdsEntry := false
	if ep == noEntry || level > int(ep>>32) {
		// This node may become the entry point: hold entryMu for the
		// whole insert so that no other insert moves it meanwhile.
		g.entryMu.Lock()
		holdsEntry = true
		ep = g.entry.Load()
		if ep == noEntry {
			g.entry.Store(uint64(level)<<32 | uint64(id))
			g.entryMu.Unlock()
			return
		}
		if level <= int(ep>>32) {
			g.entryMu.Unlock()
			holdsEntry = false
		}
	}

	cur, top := uint32(ep), int(ep>>32)
	curD := g.sp.dist(q, g.vec(cur))
	for l := top; l > level; l-- {
		cur, curD = g.greedy(q, cur, curD, l)
	}
	// First choose and store the node's own lists on every layer, and only
	// then link the chosen neighbours back to it. Until then no other
	// insert or search can reach the node, so none can find it on an upper
	// layer and descend from it into a lower one where its list is still
	// empty (an insert doing that links only to this node, and loses its
	// only in-edge when this node's list is later pruned: in parallel
	// builds about 1% of the nodes became unreachable that way).
	picks := s.picks[:0]
	for l := min(level, top); l >= 0; l-- {
		// Tombstones may be linked to: they still carry traffic.
		w := g.searchLayer(s, q, cand{curD, cur}, g.cfg.EfConstruct, l, nil, true)
		if len(w) == 0 {
			continue
		}
		cur, curD = w[0].id, w[0].d
		sel := g.selectNeighbors(s, w, g.m)
		g.setList(id, l, sel)
		for _, c := range sel {
			picks = append(picks, pick{c, l})
		}
	}
	s.picks = picks
	for _, p := range picks {
		g.link(s, p.c.id, id, p.c.d, p.level)
	}
	if holdsEntry {
		g.entry.Store(uint64(level)<<32 | uint64(id))
		g.entryMu.Unlock()
	}
}

// pick is a chosen neighbour of a node being inserted, on one layer.
type pick struct {
	c     cand
	level int
}

// setList stores sel as node id's list on layer level. The node is not
// reachable yet (see insert), so the list is still empty.
func (g *Graph) setList(id uint32, level int, sel []cand) {
	g.locks[id].Lock()
	lst := g.list(id, level)
	for j, c := range sel {
		atomic.StoreUint32(&lst[j+1], c.id)
	}
	atomic.StoreUint32(&lst[0], uint32(len(sel)))
	g.locks[id].Unlock()
}

func sortCands(cs []cand) {
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return 0
	})
}

// link adds the edge nb -> id on layer level, where d is their distance.
// A full list is shrunk back to the layer's bound with the heuristic, as
// in the paper's INSERT.
func (g *Graph) link(s *searcher, nb, id uint32, d float32, level int) {
	bound := g.m
	if level == 0 {
		bound = g.m0
	}
	g.locks[nb].Lock()
	defer g.locks[nb].Unlock()
	lst := g.list(nb, level)
	n := int(lst[0]) // writes hold the lock, so a plain read is exact
	for j := 1; j <= n; j++ {
		if lst[j] == id {
			return
		}
	}
	if n < bound {
		atomic.StoreUint32(&lst[n+1], id)
		atomic.StoreUint32(&lst[0], uint32(n+1))
		return
	}
	base := g.vec(nb)
	cs := append(s.tmp[:0], cand{d, id})
	for j := 1; j <= n; j++ {
		x := lst[j]
		cs = append(cs, cand{g.sp.dist(base, g.vec(x)), x})
	}
	sortCands(cs)
	s.tmp = cs
	sel := g.selectNeighbors(s, cs, bound)
	for j, c := range sel {
		atomic.StoreUint32(&lst[j+1], c.id)
	}
	atomic.StoreUint32(&lst[0], uint32(len(sel)))
}

// selectNeighbors is the paper's SELECT-NEIGHBORS-HEURISTIC (algorithm 4)
// without extending candidates: walking cs closest first, a candidate is
// kept when it is closer to the base than to every candidate kept so far,
// so edges spread in different directions. With KeepPruned, the result
// is then topped up to m with the closest discarded candidates. cs must be
// sorted closest first with distances to the base; the result aliases s.
func (g *Graph) selectNeighbors(s *searcher, cs []cand, m int) []cand {
	if len(cs) <= m {
		return cs
	}
	sel, pruned := s.sel[:0], s.pruned[:0]
	for _, c := range cs {
		if len(sel) >= m {
			break
		}
		vc := g.vec(c.id)
		good := true
		for _, r := range sel {
			if g.sp.dist(vc, g.vec(r.id)) < c.d {
				good = false
				break
			}
		}
		if good {
			sel = append(sel, c)
		} else if g.cfg.KeepPruned {
			pruned = append(pruned, c)
		}
	}
	for _, c := range pruned {
		if len(sel) >= m {
			break
		}
		sel = append(sel, c)
	}
	s.sel, s.pruned = sel, pruned
	return sel
}
