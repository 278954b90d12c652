package fake

import (
	"context"
	"fmt"
	"sync"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// ClusterOps is the fake meta's record of cluster operations: every
// request. The transfers that replicate_shard and move_shard start go to
// the fake State (abort_transfer ends one); the shard map is left as it
// is.
type ClusterOps struct {
	mu       sync.Mutex
	requests []*shoalv1.UpdateClusterSetupRequest
}

// Requests returns the requests received so far.
func (o *ClusterOps) Requests() []*shoalv1.UpdateClusterSetupRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*shoalv1.UpdateClusterSetupRequest(nil), o.requests...)
}

// UpdateClusterSetup records the request; an unknown collection is
// NotFound, an unknown shard InvalidArgument, aborting a transfer that
// was not started NotFound.
func (m metaAPI) UpdateClusterSetup(_ context.Context, req *connect.Request[shoalv1.UpdateClusterSetupRequest]) (*connect.Response[shoalv1.UpdateClusterSetupResponse], error) {
	coll, sm, ok := m.c.State.Collection(req.Msg.GetCollection())
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", req.Msg.GetCollection()))
	}
	o := &m.c.Ops
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, proto.Clone(req.Msg).(*shoalv1.UpdateClusterSetupRequest))
	start := func(op *shoalv1.ShardTransferOp, kind shoalv1.ShardTransferKind) error {
		if cluster.FindShard(sm, op.GetShardId()) == nil {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: Shard %d does not exist", op.GetShardId()))
		}
		m.c.State.AddTransfer(&shoalv1.ShardTransfer{
			Collection: req.Msg.GetCollection(), Uid: coll.GetUid(), ShardId: op.GetShardId(), FromNode: op.GetFromPeerId(), ToNode: op.GetToPeerId(), Kind: kind, Method: op.GetMethod(),
		})
		return nil
	}
	var err error
	switch op := req.Msg.GetOperation().(type) {
	case *shoalv1.UpdateClusterSetupRequest_ReplicateShard:
		err = start(op.ReplicateShard, shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_REPLICATE)
	case *shoalv1.UpdateClusterSetupRequest_MoveShard:
		err = start(op.MoveShard, shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_MOVE)
	case *shoalv1.UpdateClusterSetupRequest_AbortTransfer:
		a := op.AbortTransfer
		if !m.c.State.RemoveTransfer(req.Msg.GetCollection(), a.GetShardId(), a.GetFromPeerId(), a.GetToPeerId()) {
			err = connect.NewError(connect.CodeNotFound, fmt.Errorf("Shard transfer of shard %d from peer %d to peer %d does not exist", a.GetShardId(), a.GetFromPeerId(), a.GetToPeerId()))
		}
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&shoalv1.UpdateClusterSetupResponse{Revision: 1}), nil
}
