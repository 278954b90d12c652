package segment

import (
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// Filter is what a filtered search knows of its filter's matches. Sealed
// segments cache the matches as node sets (hnsw.NodeSet, plus an
// hnsw.GroupPlan when the filter names a linked field value) per filter
// ID; a cached set stays valid until a point of the segment is touched
// (Set.Touch). A set is built the second time a filter is asked in the
// same state, so filters used once never pay for it (later, if sets of
// the filter keep going stale before serving a few searches; see
// nextNeed).
type Filter struct {
	// ID identifies the filter (its canonical encoding): equal IDs have
	// equal matches in the same state of the points. "" caches nothing.
	ID string
	// Matches lists every key that matches now (checked, not
	// candidates). A search calls it at most once, when a segment builds
	// its set.
	Matches func() []string
	// Field and Value, when Field is set, are a condition every match
	// satisfies (field = value): a segment whose graph links that value
	// walks only its group (hnsw.Graph.SearchGroup).
	Field, Value string
	// Accept checks one key; plain segments, and sealed ones without a
	// cached set, search with it.
	Accept func(key string) bool
}

// maxCachedFilters bounds the cached filters per sealed segment; the
// least recently used goes first.
const maxCachedFilters = 32

// filterCache is a sealed segment's cached filter matches.
type filterCache struct {
	gen     atomic.Uint64 // bumped when a point of the segment is touched
	mu      sync.Mutex
	tick    uint64
	entries map[string]*cachedFilter
	// linked are the filters whose matches have links of their own
	// (filterlinks.go); pending those waiting for the optimizer.
	linked  map[string]bool
	pending map[string]*hnsw.NodeSet
}

// cached is what a search uses of a cache entry: set nil means check the
// filter per candidate.
type cached struct {
	set  *hnsw.NodeSet
	plan *hnsw.GroupPlan
}

// cachedFilter is one filter's matches in one state (gen) of the segment;
// set is nil until the filter has been asked need times in that state.
type cachedFilter struct {
	gen     uint64
	asks    int
	need    int // asks before the set is built
	uses    int // searches served by set
	lastUse uint64
	cached       // set is nil until built
	planned bool // plan was tried against the filter's own links
}

// Build thresholds: a filter's set is built at its minAsks-th ask in one
// state of the segment. A set that served fewer than fewUses searches
// before a touch made it stale doubles the asks its successor waits for
// (up to maxAsks), so a segment under steady in-place writes stops paying
// for sets it cannot keep; one that served more resets it.
const (
	minAsks = 2
	maxAsks = 64
	fewUses = 4
)

// nextNeed is the asks the successor of a stale entry e waits for.
func nextNeed(e *cachedFilter) int {
	switch {
	case e == nil:
		return minAsks
	case e.set == nil:
		return e.need
	case e.uses < fewUses:
		return min(2*e.need, maxAsks)
	}
	return minAsks
}

// lookup returns the cached matches of f in g, building them when f is
// asked often enough in the current state (see nextNeed); a zero cached
// means search with f.Accept. matches lists f's matching keys once per
// search. minLinked > 0 lets a filter without value links that keeps
// being asked get links of its own (see wantLinks); lookup reports when
// it queued such a request for the optimizer.
func (c *filterCache) lookup(g *hnsw.Graph, f Filter, matches func() []string, minLinked int) (out cached, queued bool) {
	if f.ID == "" || f.Matches == nil {
		return cached{}, false
	}
	gen := c.gen.Load()
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*cachedFilter{}
	}
	c.tick++
	e := c.entries[f.ID]
	if e == nil || e.gen != gen {
		if e == nil && len(c.entries) >= maxCachedFilters {
			c.evictLocked()
		}
		e = &cachedFilter{gen: gen, need: nextNeed(e)}
		c.entries[f.ID] = e
	}
	e.lastUse = c.tick
	e.asks++
	if e.set != nil {
		e.uses++
		if e.plan == nil && !e.planned && c.linked[f.ID] {
			e.planned = true
			e.plan = g.PlanGroup(e.set, filterField(f.ID), filterValue)
		}
		queued = e.plan == nil && c.wantLinks(g, f, e, minLinked)
		out = e.cached
		c.mu.Unlock()
		return out, queued
	}
	if e.asks < e.need {
		c.mu.Unlock()
		return cached{}, false
	}
	linked := c.linked[f.ID]
	c.mu.Unlock()
	// Build outside the lock; a concurrent search of the same filter may
	// build it too (the last one is kept). A touch meanwhile makes gen
	// stale: the entry is then rebuilt at the next asks.
	built := cached{set: g.NodeSet(matches())}
	if f.Field != "" {
		built.plan = g.PlanGroup(built.set, f.Field, f.Value)
	}
	if built.plan == nil && linked {
		built.plan = g.PlanGroup(built.set, filterField(f.ID), filterValue)
	}
	c.mu.Lock()
	if cur := c.entries[f.ID]; cur == e {
		e.cached, e.uses, e.planned = built, 1, linked
	}
	c.mu.Unlock()
	return built, false
}

// evictLocked drops the least recently used entry; the caller holds mu.
func (c *filterCache) evictLocked() {
	var oldest string
	var at uint64
	for id, e := range c.entries {
		if oldest == "" || e.lastUse < at {
			oldest, at = id, e.lastUse
		}
	}
	delete(c.entries, oldest)
}

// SearchFiltered is Search with a filter: plain segments and sealed ones
// without cached matches check f.Accept per candidate; sealed ones with
// cached matches walk the node set (hnsw.Graph.SearchSet) or, when f's
// field value or the filter itself is linked, its group
// (hnsw.Graph.SearchGroup). p.Accept is ignored.
func (s *Set) SearchFiltered(query []float32, k int, p index.SearchParams, f Filter) []index.Hit {
	p.Accept = f.Accept
	walk := index.SearchParams{Threshold: p.Threshold, Ef: p.Ef, Exact: p.Exact}
	matches := onceKeys(f.Matches)
	return s.mergeTop(query, k, func(seg *segment) []index.Hit {
		e := s.cachedMatches(seg, f, matches)
		switch {
		case e.set == nil:
			return seg.search(query, k, p)
		case e.plan != nil:
			s.setSearches.Add(1)
			s.groupSearches.Add(1)
			return seg.graph.SearchGroup(query, k, e.plan, walk)
		}
		s.setSearches.Add(1)
		return seg.graph.SearchSet(query, k, e.set, walk)
	})
}

// ScoreFiltered scores the filter's matches exactly, the planner's path
// for selective filters: sealed segments with cached matches score their
// node set (hnsw.Graph.ScoreSet); the others score candidates (a superset
// of the matches) and check f.Accept on those that could enter the top k.
// p.Accept is ignored.
func (s *Set) ScoreFiltered(query []float32, k int, candidates []string, p index.SearchParams, f Filter) []index.Hit {
	p.Accept = f.Accept
	matches := onceKeys(f.Matches)
	return s.mergeTop(query, k, func(seg *segment) []index.Hit {
		if e := s.cachedMatches(seg, f, matches); e.set != nil {
			return seg.graph.ScoreSet(query, k, e.set, index.SearchParams{Threshold: p.Threshold})
		}
		return seg.scoreKeys(query, k, candidates, p)
	})
}

// cachedMatches is seg's cached matches of f (sealed segments only); a
// zero cached means check f.Accept per candidate. The caller holds mu
// shared.
func (s *Set) cachedMatches(seg *segment, f Filter, matches func() []string) cached {
	if !seg.sealed() {
		return cached{}
	}
	minLinked := 0
	if s.cfg.Grouper != nil && s.cfg.PayloadM > 0 {
		minLinked = s.cfg.Grouper.MinGroupSize()
	}
	out, queued := seg.filters.lookup(seg.graph, f, matches, minLinked)
	if queued {
		s.kick()
	}
	return out
}

// onceKeys calls fn at most once and remembers its answer.
func onceKeys(fn func() []string) func() []string {
	if fn == nil {
		return nil
	}
	var once sync.Once
	var keys []string
	return func() []string {
		once.Do(func() { keys = fn() })
		return keys
	}
}

// Touch tells the Set that key's payload or vectors changed in place, so
// the cached filter matches of the sealed segment holding it are stale.
// (A write that moves the point out of a sealed segment needs no touch:
// the old node is a tombstone, which searches skip.)
func (s *Set) Touch(key string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, seg := range s.segs {
		if seg.sealed() && seg.graph.Contains(key) {
			seg.filters.gen.Add(1)
			return
		}
	}
}
