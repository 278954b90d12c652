package fake

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// Optimizations implements StorageServiceClient. The fake keeps a
// replica's points in one segment that never needs optimizing, so it
// reports that segment as idle, named after the node, collection uid and
// shard.
func (s *Storage) Optimizations(_ context.Context, req *connect.Request[shoalv1.OptimizationsRequest]) (*connect.Response[shoalv1.OptimizationsResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("Optimizations", req.Msg.Shard)
	if err != nil {
		return nil, err
	}
	ref := req.Msg.Shard
	uuid := fmt.Sprintf("00000000-0000-%04x-%04x-%012x", s.NodeID&0xffff, ref.GetShardId()&0xffff, len(ref.GetUid()))
	return connect.NewResponse(&shoalv1.OptimizationsResponse{
		Idle: []*shoalv1.SegmentInfo{{Uuid: uuid, Points: uint64(len(r))}},
	}), nil
}
