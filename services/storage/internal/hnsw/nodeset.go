package hnsw

import (
	"math/bits"
	"slices"

	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// NodeSet is a set of node ids of one graph: a bitset of one bit per node,
// so a filter check during a walk is one bit test instead of a key lookup
// and a callback. It is built once per filter (from the keys a payload
// index lists for it, see Graph.NodeSet) and may be cached for as long as
// the graph's nodes and the filter's matches do not change; a set is
// read-only once built and safe for concurrent searches.
type NodeSet struct {
	words []uint64
	n     int
}

// NewNodeSet returns an empty set with room for node ids below capacity;
// Add grows it as needed.
func NewNodeSet(capacity int) *NodeSet {
	return &NodeSet{words: make([]uint64, (max(capacity, 0)+63)/64)}
}

// Add puts id in the set.
func (s *NodeSet) Add(id uint32) {
	w := int(id >> 6)
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w+1-len(s.words))...)
	}
	bit := uint64(1) << (id & 63)
	if s.words[w]&bit == 0 {
		s.words[w] |= bit
		s.n++
	}
}

// Has reports whether id is in the set; ids beyond its range are not.
func (s *NodeSet) Has(id uint32) bool {
	w := int(id >> 6)
	return w < len(s.words) && s.words[w]&(1<<(id&63)) != 0
}

// Len is the number of ids in the set.
func (s *NodeSet) Len() int { return s.n }

// IDs returns the set's ids in increasing order.
func (s *NodeSet) IDs() []uint32 { return s.appendIDs(make([]uint32, 0, s.n)) }

// appendIDs appends the set's ids in increasing order to dst.
func (s *NodeSet) appendIDs(dst []uint32) []uint32 {
	for w, word := range s.words {
		for word != 0 {
			dst = append(dst, uint32(w<<6+bits.TrailingZeros64(word)))
			word &= word - 1
		}
	}
	return dst
}

// NodeSet returns the set of the live nodes of keys; keys the graph does
// not hold (or holds only as tombstones) are left out. The set stays
// valid for searches until one of its keys is re-added or deleted (a
// deleted node is skipped by every search anyway, a re-added key moves
// to a new node the set does not hold).
func (g *Graph) NodeSet(keys []string) *NodeSet {
	set := NewNodeSet(int(g.nodes.Load()))
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	for _, key := range keys {
		if id, ok := g.ids[key]; ok {
			set.Add(id)
		}
	}
	return set
}

// SearchSet is Search restricted to the nodes in set: up to k hits among
// them, best first (equal scores by key), with a search list of
// max(p.Ef, k) (p.Ef 0: EfConstruct) and p.Threshold applied. The filter
// check during the walk is a bit test. p.Accept, when set, is asked in
// addition about the nodes of the set. p.Exact scores every node of the
// set (ScoreSet).
func (g *Graph) SearchSet(query []float32, k int, set *NodeSet, p index.SearchParams) []index.Hit {
	if k <= 0 || len(query) != g.dim || set == nil || set.Len() == 0 {
		return nil
	}
	if p.Exact {
		return g.ScoreSet(query, k, set, p)
	}
	ef := p.Ef
	if ef <= 0 {
		ef = g.cfg.EfConstruct
	}
	g.grow.RLock()
	defer g.grow.RUnlock()
	accept := set.Has
	if p.Accept != nil {
		accept = func(id uint32) bool { return set.Has(id) && p.Accept(g.keys[id]) }
	}
	s := g.getSearcher()
	res := g.searchNodes(s, query, k, ef, accept)
	hits := g.hitsOf(res, p.Threshold)
	g.putSearcher(s)
	return g.sortCut(hits, k)
}

// ScoreSet scores every live node of set exactly (see ScoreKeys; this
// skips its key resolution): up to k hits, best first, equal scores by
// key, honouring p.Threshold and p.Accept. It is the planner's choice
// when a filter matches few points.
func (g *Graph) ScoreSet(query []float32, k int, set *NodeSet, p index.SearchParams) []index.Hit {
	if k <= 0 || len(query) != g.dim || set == nil {
		return nil
	}
	g.grow.RLock()
	defer g.grow.RUnlock()
	s := g.getSearcher()
	defer g.putSearcher(s)
	ids := set.appendIDs(s.batch[:0])
	n := g.nodes.Load()
	live := ids[:0]
	checkDead := g.deleted.Load() > 0
	for _, id := range ids {
		if id < n && g.ready.has(id) && !(checkDead && g.dead.has(id)) {
			live = append(live, id)
		}
	}
	s.batch = live
	return g.scoreIDs(query, k, live, p)
}

// hitsOf turns a walk's result (closest first) into hits, stopping at the
// first that fails threshold. The caller holds grow shared.
func (g *Graph) hitsOf(res []cand, threshold *float32) []index.Hit {
	hits := make([]index.Hit, 0, len(res))
	for _, c := range res {
		score := g.sp.score(c.d)
		if threshold != nil && !g.metric.Passes(score, *threshold) {
			break // results come closest first: the rest fail too
		}
		hits = append(hits, index.Hit{Key: g.keys[c.id], Score: score})
	}
	return hits
}

// sortCut orders hits best first, equal scores by key, and keeps k.
func (g *Graph) sortCut(hits []index.Hit, k int) []index.Hit {
	slices.SortStableFunc(hits, func(a, b index.Hit) int {
		switch {
		case a.Score == b.Score:
			if a.Key < b.Key {
				return -1
			}
			if a.Key > b.Key {
				return 1
			}
			return 0
		case g.metric.Better(a.Score, b.Score):
			return -1
		}
		return 1
	})
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits
}
