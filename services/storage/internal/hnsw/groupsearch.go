package hnsw

import (
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// GroupPlan is a filter's matches (a NodeSet) prepared for SearchGroup:
// the group of field=value whose links reach them and the matches those
// links do not reach. Build it once per filter and graph, next to the
// NodeSet, and keep it as long as the set; it is read-only and safe for
// concurrent searches.
type GroupPlan struct {
	links    *FieldLinks
	group    uint32
	set      *NodeSet
	unlinked []uint32
}

// Unlinked is the number of matches SearchGroup scores exactly.
func (p *GroupPlan) Unlinked() int { return len(p.unlinked) }

// PlanGroup prepares a search of set through the links of field=value:
// set must hold only nodes that hold value (the matches of a filter that
// includes field = value). It returns nil when the field or the value has
// no links, when set holds less than half the group (the walk would
// score mostly rejected members), or when more than a quarter of set is
// not linked under the value (added to it after LinkField, or holding
// several values): SearchSet is the walk for those.
func (g *Graph) PlanGroup(set *NodeSet, field, value string) *GroupPlan {
	if set == nil || set.Len() == 0 {
		return nil
	}
	g.grow.RLock()
	f := g.fields[field]
	g.grow.RUnlock()
	if f == nil {
		return nil
	}
	grp, ok := f.groups[value]
	if !ok || set.Len()*2 < int(f.size[grp]) {
		return nil
	}
	var unlinked []uint32
	for w, word := range set.words {
		for word != 0 {
			id := uint32(w<<6) + uint32(bits.TrailingZeros64(word))
			word &= word - 1
			if int(id) >= len(f.groupOf) || f.groupOf[id] != grp {
				unlinked = append(unlinked, id)
				if len(unlinked)*4 > set.Len() {
					return nil
				}
			}
		}
	}
	return &GroupPlan{links: f, group: grp, set: set, unlinked: unlinked}
}

// SearchGroup is SearchSet for a planned group: up to k hits among the
// plan's set, best first (equal scores by key), search list max(p.Ef, k)
// (p.Ef 0: EfConstruct), p.Threshold applied. The layer-0 walk follows
// only the group's links, starting from the group members next to where
// the descent through the upper layers ends; the unlinked matches are
// scored exactly and merged. p.Accept, when set, is asked in addition.
func (g *Graph) SearchGroup(query []float32, k int, plan *GroupPlan, p index.SearchParams) []index.Hit {
	if k <= 0 || len(query) != g.dim || plan == nil {
		return nil
	}
	if p.Exact {
		return g.ScoreSet(query, k, plan.set, p)
	}
	ef := max(p.Ef, k)
	if p.Ef <= 0 {
		ef = max(g.cfg.EfConstruct, k)
	}
	g.grow.RLock()
	defer g.grow.RUnlock()
	ep := g.entry.Load()
	if ep == noEntry {
		return nil
	}
	set, checkDead := plan.set, g.deleted.Load() > 0
	accept := func(id uint32) bool {
		return set.Has(id) && !(checkDead && g.dead.has(id)) && (p.Accept == nil || p.Accept(g.keys[id]))
	}
	cur, top := uint32(ep), int(ep>>32)
	curD := g.sp.dist(query, g.vec(cur))
	for l := top; l > 0; l-- {
		cur, curD = g.greedy(query, cur, curD, l)
	}
	s := g.getSearcher()
	defer g.putSearcher(s)
	s.nextMark()
	res := g.walkGroup(s, query, g.groupEntries(s, query, plan, cur, curD), ef, plan.links, accept)
	for _, id := range plan.unlinked {
		if id < g.nodes.Load() && g.ready.has(id) && accept(id) {
			res = append(res, cand{g.sp.dist(query, g.vec(id)), id})
		}
	}
	if len(plan.unlinked) > 0 {
		sortCands(res)
	}
	return g.sortCut(g.hitsOf(cutTies(res, k), p.Threshold), k)
}

// groupEntries returns the walk's starting points: the layer-0 entry cur
// when it is a member of the plan's group, else the members among its
// neighbours, else among their neighbours, else the group graph's own
// entry; each scored and marked visited. The caller holds grow shared.
func (g *Graph) groupEntries(s *searcher, q []float32, plan *GroupPlan, cur uint32, curD float32) []cand {
	f, grp := plan.links, plan.group
	member := func(id uint32) bool { return int(id) < len(f.groupOf) && f.groupOf[id] == grp }
	vis, mark := s.visited, s.mark
	eps := s.tmp[:0]
	if member(cur) {
		vis[cur] = mark
		eps = append(eps, cand{curD, cur})
		s.tmp = eps
		return eps
	}
	take := func(id uint32) {
		if vis[id] != mark && member(id) {
			vis[id] = mark
			eps = append(eps, cand{g.sp.dist(q, g.vec(id)), id})
		}
	}
	lst := g.list(cur, 0)
	n := min(int(atomic.LoadUint32(&lst[0])), len(lst)-1)
	for j := 1; j <= n; j++ {
		take(atomic.LoadUint32(&lst[j]))
	}
	for j := 1; j <= n && len(eps) == 0; j++ {
		bl := g.list(atomic.LoadUint32(&lst[j]), 0)
		bn := min(int(atomic.LoadUint32(&bl[0])), len(bl)-1)
		for i := 1; i <= bn; i++ {
			take(atomic.LoadUint32(&bl[i]))
		}
	}
	if len(eps) == 0 {
		take(f.entry[grp])
	}
	s.tmp = eps
	return eps
}

// walkGroup is searchLayer on layer 0 over the group links f instead of
// the graph's own: every node reached is a member of the group, scored,
// and entered in the results when accept allows it. eps are scored and
// marked visited. The result, closest first, is appended to s.out[:0].
// The caller holds grow shared.
func (g *Graph) walkGroup(s *searcher, q []float32, eps []cand, ef int, f *FieldLinks, accept func(uint32) bool) []cand {
	vis, mark := s.visited, s.mark
	cands, res := s.cands[:0], s.res[:0]
	for _, e := range eps {
		cands.push(e)
		if accept(e.id) {
			res.pushBounded(e, ef)
		}
	}
	dim, vecs, dist := g.dim, g.vecs, g.sp.dist
	for len(cands) > 0 {
		c := cands.pop()
		if len(res) >= ef && c.d > res[0].d {
			break
		}
		if len(cands) > 0 {
			if l := f.list(cands[0].id); len(l) > 0 {
				prefetch(unsafe.Pointer(&l[0]))
			}
		}
		batch := s.batch[:0]
		for _, nb := range f.list(c.id) {
			if vis[nb] != mark {
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
				if accept(nb) {
					res.pushBounded(cand{d, nb}, ef)
				}
			}
		}
	}
	s.cands, s.res = cands, res
	s.out = s.res.drainSorted(s.out[:0])
	return s.out
}
