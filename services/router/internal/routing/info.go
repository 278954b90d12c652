package routing

import (
	"context"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// ShardInfo is one shard's description, or the error that prevented it.
type ShardInfo struct {
	Shard uint32
	Info  *shoalv1.InfoResponse
	Err   error
}

// InfoEach asks one ACTIVE replica of every shard, in parallel, for its
// description (points, segments, payload schema) and reports each shard's
// outcome.
func (r *Router) InfoEach(ctx context.Context, c *Collection) []ShardInfo {
	shards := c.Map.GetShards()
	out := make([]ShardInfo, len(shards))
	parallel(len(shards), func(i int) error {
		out[i].Shard = shards[i].GetId()
		out[i].Err = r.Read(ctx, c, shards[i].GetId(), "info", func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) error {
			resp, err := cl.Info(ctx, connect.NewRequest(&shoalv1.InfoRequest{Shard: ref}))
			if err != nil {
				return err
			}
			out[i].Info = resp.Msg
			return nil
		})
		return nil
	})
	return out
}

// ShardOptimizations is one shard's optimizer report, or the error that
// prevented it.
type ShardOptimizations struct {
	Shard uint32
	Resp  *shoalv1.OptimizationsResponse
	Err   error
}

// OptimizationsEach asks one ACTIVE replica of every shard, in parallel,
// for its segment optimizers' state.
func (r *Router) OptimizationsEach(ctx context.Context, c *Collection) []ShardOptimizations {
	shards := c.Map.GetShards()
	out := make([]ShardOptimizations, len(shards))
	parallel(len(shards), func(i int) error {
		out[i].Shard = shards[i].GetId()
		out[i].Err = r.Read(ctx, c, shards[i].GetId(), "optimizations", func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) error {
			resp, err := cl.Optimizations(ctx, connect.NewRequest(&shoalv1.OptimizationsRequest{Shard: ref}))
			if err != nil {
				return err
			}
			out[i].Resp = resp.Msg
			return nil
		})
		return nil
	})
	return out
}
