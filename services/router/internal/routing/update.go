package routing

import (
	"context"
	"slices"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// Apply sends one operation per shard (ops maps a shard id to its part),
// every shard in parallel through the ShardWriter, and combines the
// answers like Upsert. Shards not in ops are not written.
func (r *Router) Apply(ctx context.Context, c *Collection, ops map[uint32]*shoalv1.Operation, wait bool) (UpdateResult, error) {
	shards := make([]uint32, 0, len(ops))
	for s := range ops {
		shards = append(shards, s)
	}
	slices.Sort(shards)
	return r.write(ctx, c, shards, func(s uint32) WriteOp { return WriteOp{Op: ops[s], Wait: wait} })
}

// ApplyAll sends the same operation to every shard of the collection: an
// operation by filter, or one on the collection's structure (field
// indexes).
func (r *Router) ApplyAll(ctx context.Context, c *Collection, op *shoalv1.Operation, wait bool) (UpdateResult, error) {
	ops := make(map[uint32]*shoalv1.Operation, len(c.Map.GetShards()))
	for _, sh := range c.Map.GetShards() {
		ops[sh.GetId()] = op
	}
	return r.Apply(ctx, c, ops, wait)
}

// SplitIDs groups point ids by the shard that owns them, keeping their
// order within each shard.
func SplitIDs(c *Collection, ids []*shoalv1.PointID) map[uint32][]*shoalv1.PointID {
	groups, _ := groupByShard(c, ids, func(id *shoalv1.PointID) *shoalv1.PointID { return id })
	return groups
}

// SplitVectors groups vector updates by the shard that owns their point.
func SplitVectors(c *Collection, points []*shoalv1.PointVectors) map[uint32][]*shoalv1.PointVectors {
	groups, _ := groupByShard(c, points, (*shoalv1.PointVectors).GetId)
	return groups
}

// SplitPoints groups points by the shard that owns them, keeping their
// order within each shard.
func SplitPoints(c *Collection, points []*shoalv1.Point) map[uint32][]*shoalv1.Point {
	groups, _ := groupByShard(c, points, (*shoalv1.Point).GetId)
	return groups
}
