package routing

import (
	"context"
	"fmt"
	"slices"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// OrderedPoint is a point of a scroll ordered by a payload field, with the
// field's value that placed it.
type OrderedPoint struct {
	Point *shoalv1.Point
	Value float64
}

// OrderedScrollParams is a scroll ordered by a payload field.
type OrderedScrollParams struct {
	OrderBy *shoalv1.OrderBy
	Limit   int
	Read    ReadOptions
	// Filter is Qdrant filter JSON; nil for none.
	Filter []byte
}

// ScrollOrdered asks every shard, in parallel, for its first limit points
// in the order of a payload field (from start_from, ascending or
// descending) and merges them (see MergeOrdered).
func (r *Router) ScrollOrdered(ctx context.Context, c *Collection, p OrderedScrollParams) ([]OrderedPoint, error) {
	shards := c.Map.GetShards()
	lists := make([][]OrderedPoint, len(shards))
	errs := parallel(len(shards), func(i int) error {
		var err error
		lists[i], err = readShard(r, ctx, c, shards[i].GetId(), "scroll", func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) ([]OrderedPoint, error) {
			resp, err := cl.Scroll(ctx, connect.NewRequest(&shoalv1.ScrollRequest{
				Shard: ref, Limit: uint32(p.Limit), WithPayload: p.Read.WithPayload, WithVector: p.Read.WithVector,
				Filter: p.Filter, OrderBy: p.OrderBy,
			}))
			if err != nil {
				return nil, err
			}
			pts, vals := resp.Msg.GetPoints(), resp.Msg.GetOrderValues()
			if len(vals) != len(pts) {
				return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("ordered scroll answered %d points with %d order values", len(pts), len(vals)))
			}
			out := make([]OrderedPoint, len(pts))
			for j, pt := range pts {
				out[j] = OrderedPoint{Point: pt, Value: vals[j]}
			}
			return out, nil
		}, ResolveOrdered)
		return err
	})
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	return MergeOrdered(lists, p.OrderBy.GetDescending(), p.Limit), nil
}

// MergeOrdered merges per-shard ordered pages into the first limit points
// overall: by value (ascending, or descending), equal values by point id.
// A point may occur more than once (once per value of a multi-valued
// field), as the shards report it.
func MergeOrdered(lists [][]OrderedPoint, descending bool, limit int) []OrderedPoint {
	var all []OrderedPoint
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b OrderedPoint) int {
		if a.Value != b.Value {
			if (a.Value < b.Value) != descending {
				return -1
			}
			return 1
		}
		return pointid.Compare(a.Point.GetId(), b.Point.GetId())
	})
	if len(all) > limit {
		all = all[:limit]
	}
	return all
}
