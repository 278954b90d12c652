package hnsw

import (
	"context"
	"fmt"
	"slices"
	"strconv"
)

// Filter-aware links.
//
// A filter on one value of a field (a tenant, a category) matches a part
// of the points that the graph's own links leave sparse: a walk restricted
// to the matches either falls apart or has to score rejected nodes to get
// across. LinkField builds, for each value's group of nodes, an HNSW graph
// over that group alone and keeps its layer-0 lists: a search for that
// value (SearchGroup) then walks only the group, as a search of a graph
// holding just those points would, and scores nothing else.
//
// The links describe the nodes and values present when LinkField ran. A
// node that held several values of the field, or that gained the value
// later (a payload update), is not linked under it: GroupPlan lists such
// matches as unlinked, and SearchGroup scores them exactly. A node whose
// value changed away is still walked through but never returned, because
// the walk only returns nodes of the filter's NodeSet.

// FieldLinks are the group links of one field of one graph. They are
// immutable once built and safe for concurrent searches.
type FieldLinks struct {
	groups  map[string]uint32 // value -> group number (1-based)
	groupOf []uint32          // per node: its group number, 0 = not linked
	off     []uint32          // per node: where its list starts in links; len nodes+1
	links   []uint32          // the lists, node after node
	entry   []uint32          // per group number: the group graph's entry node
	size    []uint32          // per group number: members
	// ephemeral links (LinkNodes) live in memory only: Marshal skips them.
	ephemeral bool
}

// Ephemeral reports links made by LinkNodes (not written by Marshal).
func (f *FieldLinks) Ephemeral() bool { return f.ephemeral }

// Groups is the number of linked groups.
func (f *FieldLinks) Groups() int { return len(f.groups) }

// Linked is the number of nodes with links.
func (f *FieldLinks) Linked() int {
	n := 0
	for _, s := range f.size {
		n += int(s)
	}
	return n
}

// list is node id's links (empty when it has none).
func (f *FieldLinks) list(id uint32) []uint32 {
	if int(id)+1 >= len(f.off) {
		return nil
	}
	return f.links[f.off[id]:f.off[id+1]]
}

// LinkField builds the group links of field: groups maps each value to
// the nodes holding it. The field is recorded as linked (Fields) even
// when no value qualifies. Values with fewer than minSize nodes are not
// linked (a planner scores so few matches exactly); a node listed under
// several values is linked under none. Each group's graph is built with
// m (0: the graph's m) and the graph's ef_construct on workers
// goroutines. Unknown node ids
// are an error. The links replace the field's earlier ones; the graph's
// nodes must not be added to concurrently (sealed segments are
// immutable), but searches may run.
func (g *Graph) LinkField(ctx context.Context, field string, groups map[string][]uint32, m, minSize, workers int) error {
	return g.linkField(ctx, field, groups, m, minSize, workers, false)
}

// LinkNodes links nodes among themselves under field's one value "m", as
// LinkField does, in memory only (Marshal skips them): links for the
// matches of one filter, which a GroupPlan of field = "m" walks.
func (g *Graph) LinkNodes(ctx context.Context, field string, nodes []uint32, m, workers int) error {
	return g.linkField(ctx, field, map[string][]uint32{"m": nodes}, m, 2, workers, true)
}

func (g *Graph) linkField(ctx context.Context, field string, groups map[string][]uint32, m, minSize, workers int, ephemeral bool) error {
	g.grow.RLock()
	n := g.nodes.Load()
	g.grow.RUnlock()
	owner := make([]uint32, n) // 0 none, ^0 several values
	values := make([]string, 0, len(groups))
	for v, nodes := range groups {
		if len(nodes) < max(minSize, 2) {
			continue
		}
		values = append(values, v)
	}
	slices.Sort(values) // group numbers independent of map order
	for gi, v := range values {
		for _, id := range groups[v] {
			if id >= n {
				return fmt.Errorf("hnsw: link %s=%s: node %d not in the graph (%d nodes)", field, v, id, n)
			}
			if owner[id] == 0 {
				owner[id] = uint32(gi + 1)
			} else if owner[id] != uint32(gi+1) {
				owner[id] = ^uint32(0)
			}
		}
	}
	f := &FieldLinks{groups: map[string]uint32{}, groupOf: make([]uint32, n), entry: []uint32{0}, size: []uint32{0}, ephemeral: ephemeral}
	lists := make([][]uint32, n)
	cfg := Config{M: g.cfg.M, EfConstruct: g.cfg.EfConstruct, KeepPruned: g.cfg.KeepPruned, Seed: g.cfg.Seed}
	if m > 0 {
		cfg.M = m
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("hnsw: link %s: %w", field, err)
	}
	for gi, v := range values {
		var members []uint32
		for _, id := range groups[v] {
			if owner[id] == uint32(gi+1) {
				members = append(members, id)
			}
		}
		slices.Sort(members)
		members = slices.Compact(members)
		if len(members) < max(minSize, 2) {
			continue
		}
		sub, err := g.buildGroup(ctx, cfg, members, workers)
		if err != nil {
			return fmt.Errorf("hnsw: link %s=%s: %w", field, v, err)
		}
		num := uint32(len(f.entry))
		f.groups[v] = num
		f.entry = append(f.entry, members[uint32(sub.entry.Load())])
		f.size = append(f.size, uint32(len(members)))
		for local, id := range members {
			f.groupOf[id] = num
			lst := sub.list(uint32(local), 0)
			cnt := min(int(lst[0]), len(lst)-1)
			out := make([]uint32, cnt)
			for j, l := range lst[1 : cnt+1] {
				out[j] = members[l]
			}
			lists[id] = out
		}
	}
	if len(f.groups) == 0 {
		// Nothing to link: the field is recorded as considered, without
		// per-node arrays.
		f.groupOf = nil
		g.setField(field, f)
		return nil
	}
	f.off = make([]uint32, n+1)
	total := 0
	for id, l := range lists {
		f.off[id] = uint32(total)
		total += len(l)
	}
	f.off[n] = uint32(total)
	f.links = make([]uint32, 0, total)
	for _, l := range lists {
		f.links = append(f.links, l...)
	}
	g.setField(field, f)
	return nil
}

// setField installs f as field's links.
func (g *Graph) setField(field string, f *FieldLinks) {
	g.grow.Lock()
	defer g.grow.Unlock()
	if g.fields == nil {
		g.fields = map[string]*FieldLinks{}
	}
	g.fields[field] = f
}

// buildGroup builds the HNSW graph of members alone (local ids are
// positions in members).
func (g *Graph) buildGroup(ctx context.Context, cfg Config, members []uint32, workers int) (*Graph, error) {
	keys := make([]string, len(members))
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	return Build(ctx, cfg, g.metric, g.dim, keys, func(i int) []float32 { return g.vec(members[i]) }, workers)
}

// Fields returns the linked fields and their links (a copy of the map;
// the links are shared and immutable).
func (g *Graph) Fields() map[string]*FieldLinks {
	g.grow.RLock()
	defer g.grow.RUnlock()
	out := make(map[string]*FieldLinks, len(g.fields))
	for k, v := range g.fields {
		out[k] = v
	}
	return out
}

// DropField forgets field's links (its index was dropped).
func (g *Graph) DropField(field string) {
	g.grow.Lock()
	defer g.grow.Unlock()
	delete(g.fields, field)
}
