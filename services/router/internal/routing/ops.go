package routing

import (
	"context"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// UpdateResult is the combined answer of a write's shards.
type UpdateResult struct {
	// OperationID is the highest sequence number any shard gave the write
	// (shards number their operations independently).
	OperationID uint64
	// Completed is true when every shard applied the write (wait=true).
	Completed bool
}

// Upsert writes points, grouped by shard, every shard in parallel through
// the ShardWriter. It fails if any shard fails (the other shards' parts
// stay written: a retry of the whole request is idempotent).
func (r *Router) Upsert(ctx context.Context, c *Collection, points []*shoalv1.Point, wait bool) (UpdateResult, error) {
	if err := c.Writable(); err != nil {
		return UpdateResult{}, err
	}
	groups, order := groupByShard(c, points, (*shoalv1.Point).GetId)
	return r.write(ctx, c, order, func(s uint32) WriteOp { return WriteOp{Upsert: groups[s], Wait: wait} })
}

// Delete removes points by id, grouped by shard like Upsert.
func (r *Router) Delete(ctx context.Context, c *Collection, ids []*shoalv1.PointID, wait bool) (UpdateResult, error) {
	groups, order := groupByShard(c, ids, func(id *shoalv1.PointID) *shoalv1.PointID { return id })
	return r.write(ctx, c, order, func(s uint32) WriteOp { return WriteOp{Delete: groups[s], Wait: wait} })
}

func (r *Router) write(ctx context.Context, c *Collection, shards []uint32, op func(uint32) WriteOp) (UpdateResult, error) {
	answers := make([]*shoalv1.UpdateResponse, len(shards))
	errs := parallel(len(shards), func(i int) error {
		shard, err := c.Shard(shards[i])
		if err != nil {
			return err
		}
		answers[i], err = r.writer.Write(ctx, c, shard, op(shards[i]))
		return err
	})
	if err := firstErr(errs); err != nil {
		return UpdateResult{}, err
	}
	res := UpdateResult{Completed: true}
	for _, a := range answers {
		res.OperationID = max(res.OperationID, a.GetSeq())
		res.Completed = res.Completed && a.GetCompleted()
	}
	return res, nil
}

// ReadOptions selects what reads return.
type ReadOptions struct {
	WithPayload bool
	// WithVector is nil for no vectors.
	WithVector *shoalv1.WithVector
}

// Get returns the points with the given ids that exist, in the order of
// ids, each id once. Shards are read in parallel.
func (r *Router) Get(ctx context.Context, c *Collection, ids []*shoalv1.PointID, opt ReadOptions) ([]*shoalv1.Point, error) {
	groups, order := groupByShard(c, ids, func(id *shoalv1.PointID) *shoalv1.PointID { return id })
	found := make([][]*shoalv1.Point, len(order))
	errs := parallel(len(order), func(i int) error {
		var err error
		found[i], err = readShard(r, ctx, c, order[i], "retrieve", func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) ([]*shoalv1.Point, error) {
			resp, err := cl.GetPoints(ctx, connect.NewRequest(&shoalv1.GetPointsRequest{
				Shard: ref, Ids: groups[order[i]], WithPayload: opt.WithPayload, WithVector: opt.WithVector,
			}))
			if err != nil {
				return nil, err
			}
			return resp.Msg.GetPoints(), nil
		}, ResolvePoints)
		return err
	})
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	byKey := map[string]*shoalv1.Point{}
	for _, l := range found {
		for _, p := range l {
			byKey[string(pointid.Key(p.GetId()))] = p
		}
	}
	out := make([]*shoalv1.Point, 0, len(byKey))
	for _, id := range ids {
		k := string(pointid.Key(id))
		if p, ok := byKey[k]; ok {
			out = append(out, p)
			delete(byKey, k)
		}
	}
	return out, nil
}

// SearchParams is a nearest-neighbour search over the whole collection.
type SearchParams struct {
	Using          string
	Vector         []float32
	Limit, Offset  int
	ScoreThreshold *float32
	Exact          bool
	HnswEf         uint32
	Read           ReadOptions
	// Filter is Qdrant filter JSON; nil for none.
	Filter []byte
	// Exclude drops these ids from the result (query by a point's id
	// leaves the point itself out).
	Exclude []*shoalv1.PointID
}

// Search asks every shard, in parallel, for its best offset+limit(+the
// excluded) points and merges them (see MergeScored). The score order
// comes from the distance of the searched vector.
func (r *Router) Search(ctx context.Context, c *Collection, p SearchParams) ([]*shoalv1.ScoredPoint, error) {
	order := ScoreOrder{HigherIsBetter: HigherIsBetter(c.Distance(p.Using))}
	perShard := uint32(p.Offset + p.Limit + len(p.Exclude))
	shards := c.Map.GetShards()
	lists := make([][]*shoalv1.ScoredPoint, len(shards))
	errs := parallel(len(shards), func(i int) error {
		var err error
		lists[i], err = readShard(r, ctx, c, shards[i].GetId(), "search", func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) ([]*shoalv1.ScoredPoint, error) {
			resp, err := cl.Search(ctx, connect.NewRequest(&shoalv1.SearchRequest{
				Shard: ref, Using: p.Using, Vector: &shoalv1.Vector{Data: p.Vector}, Limit: perShard,
				ScoreThreshold: p.ScoreThreshold, WithPayload: p.Read.WithPayload, WithVector: p.Read.WithVector,
				Exact: p.Exact, HnswEf: p.HnswEf, Filter: p.Filter,
			}))
			if err != nil {
				return nil, err
			}
			return resp.Msg.GetPoints(), nil
		}, ResolveScored)
		return err
	})
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	if p.ScoreThreshold != nil {
		for i, l := range lists {
			kept := l[:0:0]
			for _, sp := range l {
				if order.Passes(sp.GetScore(), *p.ScoreThreshold) {
					kept = append(kept, sp)
				}
			}
			lists[i] = kept
		}
	}
	exclude := map[string]bool{}
	for _, id := range p.Exclude {
		exclude[string(pointid.Key(id))] = true
	}
	return MergeScored(lists, order, p.Offset, p.Limit, exclude), nil
}

// ScrollParams is a page of a collection in id order.
type ScrollParams struct {
	// Offset is the first id of the page; nil starts at the lowest.
	Offset *shoalv1.PointID
	Limit  int
	Read   ReadOptions
	// Filter is Qdrant filter JSON; nil for none.
	Filter []byte
}

// Scroll returns up to limit points in id order starting at offset (nil:
// from the lowest id), and the id to continue from (nil at the end). Every
// shard is asked for limit+1 points from the offset, in parallel.
func (r *Router) Scroll(ctx context.Context, c *Collection, p ScrollParams) ([]*shoalv1.Point, *shoalv1.PointID, error) {
	shards := c.Map.GetShards()
	lists := make([][]*shoalv1.Point, len(shards))
	errs := parallel(len(shards), func(i int) error {
		var err error
		lists[i], err = readShard(r, ctx, c, shards[i].GetId(), "scroll", func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) ([]*shoalv1.Point, error) {
			resp, err := cl.Scroll(ctx, connect.NewRequest(&shoalv1.ScrollRequest{
				Shard: ref, Offset: p.Offset, Limit: uint32(p.Limit + 1), WithPayload: p.Read.WithPayload, WithVector: p.Read.WithVector, Filter: p.Filter,
			}))
			if err != nil {
				return nil, err
			}
			return resp.Msg.GetPoints(), nil
		}, ResolvePoints)
		return err
	})
	if err := firstErr(errs); err != nil {
		return nil, nil, err
	}
	page, next := MergeByID(lists, p.Limit)
	return page, next, nil
}

// ShardCount is one shard's point count, or the error that prevented it.
type ShardCount struct {
	Shard uint32
	Count uint64
	Err   error
}

// CountEach counts every shard in parallel (the points matching filter,
// Qdrant filter JSON, or all for nil) and reports each shard's outcome, so
// that a caller can show partial counts.
func (r *Router) CountEach(ctx context.Context, c *Collection, filter []byte) []ShardCount {
	shards := c.Map.GetShards()
	out := make([]ShardCount, len(shards))
	parallel(len(shards), func(i int) error {
		out[i].Shard = shards[i].GetId()
		out[i].Count, out[i].Err = readShard(r, ctx, c, shards[i].GetId(), "count", func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) (uint64, error) {
			resp, err := cl.Count(ctx, connect.NewRequest(&shoalv1.CountRequest{Shard: ref, Filter: filter}))
			if err != nil {
				return 0, err
			}
			return resp.Msg.GetCount(), nil
		}, ResolveCount)
		return nil
	})
	return out
}

// Count is the number of points in the collection that match filter (all
// for nil): the sum of the shard counts. It fails if any shard cannot be
// counted.
func (r *Router) Count(ctx context.Context, c *Collection, filter []byte) (uint64, error) {
	var total uint64
	for _, sc := range r.CountEach(ctx, c, filter) {
		if sc.Err != nil {
			return 0, sc.Err
		}
		total += sc.Count
	}
	return total, nil
}
