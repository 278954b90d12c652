package segment

import (
	"context"
	"fmt"
	"time"

	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
)

// Links for frequent filters.
//
// A filter that no value links cover (a range, a match on several values)
// but that keeps being asked with the same matches gets links of its own:
// once its cached set has served linkAfterUses searches, the optimizer
// links the set's nodes among themselves (hnsw.Graph.LinkNodes, in memory
// only), and later searches walk them as they walk a value's links
// (hnsw.GroupPlan). The links outlive the cached set: after a touch the
// new set is planned against them, matches they do not reach are scored
// exactly, and when too many do (see hnsw.Graph.PlanGroup) the filter is
// linked again. At most maxFilterLinks filters per segment are linked;
// they are lost with the segment (a merge, a vacuum, a restart) and made
// again on demand.

const (
	linkAfterUses  = 64
	maxFilterLinks = 4
	filterValue    = "m"
)

// filterField is the links' name for filter id in the graph.
func filterField(id string) string { return "\x00filter\x00" + id }

// wantLinks decides, for entry e of f that just served a search without a
// group plan, whether to queue f's matches for links of their own; the
// caller holds c.mu. minLinked is the fewest matches worth linking (0:
// never link).
func (c *filterCache) wantLinks(g *hnsw.Graph, f Filter, e *cachedFilter, minLinked int) bool {
	if minLinked <= 0 || e.uses != linkAfterUses || c.pending[f.ID] != nil {
		return false
	}
	// Called without a plan: a linked filter here has drifted too far
	// from its links (once planned against them), else it needs a slot.
	if linked := c.linked[f.ID]; linked && !e.planned ||
		!linked && len(c.linked)+len(c.pending) >= maxFilterLinks {
		return false
	}
	// Nearly every node: the plain walk is as good.
	if n := e.set.Len(); n < minLinked || 4*n > 3*g.Nodes() {
		return false
	}
	if c.pending == nil {
		c.pending = map[string]*hnsw.NodeSet{}
	}
	c.pending[f.ID] = e.set
	return true
}

// linkFilters links one queued filter's matches in a sealed segment's
// graph, and reports whether it did any work. The caller holds jobMu.
func (s *Set) linkFilters(ctx context.Context) (bool, error) {
	var seg *segment
	var id string
	var set *hnsw.NodeSet
	s.mu.RLock()
	for _, sg := range s.segs {
		if !sg.sealed() {
			continue
		}
		sg.filters.mu.Lock()
		for k, v := range sg.filters.pending {
			seg, id, set = sg, k, v
			break
		}
		sg.filters.mu.Unlock()
		if seg != nil {
			break
		}
	}
	s.mu.RUnlock()
	if seg == nil {
		return false, nil
	}
	t0 := time.Now()
	err := seg.graph.LinkNodes(ctx, filterField(id), set.IDs(), s.cfg.PayloadM, s.cfg.BuildWorkers)
	c := &seg.filters
	c.mu.Lock()
	delete(c.pending, id)
	if err == nil {
		if c.linked == nil {
			c.linked = map[string]bool{}
		}
		c.linked[id] = true
		if e := c.entries[id]; e != nil {
			e.planned = false // plan against the new links at the next search
		}
	}
	c.mu.Unlock()
	if err != nil {
		return true, fmt.Errorf("link a filter's matches: %w", err)
	}
	s.log.Info().Int("points", set.Len()).Dur("took", time.Since(t0)).Msg("filter matches linked")
	return true, nil
}
