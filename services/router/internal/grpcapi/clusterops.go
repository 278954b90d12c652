package grpcapi

import (
	"context"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// registerClusterOps registers qdrant.Collections/UpdateCollectionClusterSetup.
func (s *Server) registerClusterOps() {
	unary(s, "/qdrant.Collections/UpdateCollectionClusterSetup", true, func(ctx context.Context, req *qdrant.UpdateCollectionClusterSetupRequest) (*qdrant.UpdateCollectionClusterSetupResponse, error) {
		op, err := clusterOperation(req)
		if err != nil {
			return nil, err
		}
		if err := s.svc.UpdateClusterSetup(ctx, req.GetCollectionName(), op); err != nil {
			return nil, err
		}
		return &qdrant.UpdateCollectionClusterSetupResponse{Result: true}, nil
	})
}

// clusterOperation converts the request's operation.
func clusterOperation(req *qdrant.UpdateCollectionClusterSetupRequest) (service.ClusterOperation, error) {
	if op, ok, err := shardingKeyOperation(req); ok {
		return op, err
	}
	transfer := func(name string, shard uint32, toShard *uint32, from, to uint64, method *qdrant.ShardTransferMethod) (service.ClusterOperation, error) {
		if toShard != nil {
			return service.ClusterOperation{}, apierr.BadInput("%s: to_shard_id (resharding) is not supported", name)
		}
		op := service.ClusterOperation{Op: name, ShardID: shard, FromPeerID: from, ToPeerID: to}
		if method != nil {
			m, err := transferMethod(*method)
			if err != nil {
				return service.ClusterOperation{}, err
			}
			op.Method = m
		}
		return op, nil
	}
	switch o := req.GetOperation().(type) {
	case *qdrant.UpdateCollectionClusterSetupRequest_MoveShard:
		m := o.MoveShard
		return transfer(service.OpMoveShard, m.GetShardId(), m.ToShardId, m.GetFromPeerId(), m.GetToPeerId(), m.Method)
	case *qdrant.UpdateCollectionClusterSetupRequest_ReplicateShard:
		m := o.ReplicateShard
		return transfer(service.OpReplicateShard, m.GetShardId(), m.ToShardId, m.GetFromPeerId(), m.GetToPeerId(), m.Method)
	case *qdrant.UpdateCollectionClusterSetupRequest_RestartTransfer:
		m := o.RestartTransfer
		method := m.GetMethod()
		return transfer(service.OpRestartTransfer, m.GetShardId(), m.ToShardId, m.GetFromPeerId(), m.GetToPeerId(), &method)
	case *qdrant.UpdateCollectionClusterSetupRequest_AbortTransfer:
		m := o.AbortTransfer
		if m.ToShardId != nil {
			return service.ClusterOperation{}, apierr.BadInput("abort_transfer: to_shard_id (resharding) is not supported")
		}
		return service.ClusterOperation{Op: service.OpAbortTransfer, ShardID: m.GetShardId(), FromPeerID: m.GetFromPeerId(), ToPeerID: m.GetToPeerId()}, nil
	case *qdrant.UpdateCollectionClusterSetupRequest_DropReplica:
		return service.ClusterOperation{Op: service.OpDropReplica, ShardID: o.DropReplica.GetShardId(), PeerID: o.DropReplica.GetPeerId()}, nil
	case nil:
		return service.ClusterOperation{}, apierr.BadInput("no cluster operation given")
	}
	return service.ClusterOperation{}, apierr.BadInput("cluster operation %T is not supported", req.GetOperation())
}

// transferMethod is the REST name of a gRPC transfer method.
func transferMethod(m qdrant.ShardTransferMethod) (string, error) {
	switch m {
	case qdrant.ShardTransferMethod_StreamRecords:
		return "stream_records", nil
	case qdrant.ShardTransferMethod_Snapshot:
		return "snapshot", nil
	case qdrant.ShardTransferMethod_WalDelta:
		return "wal_delta", nil
	}
	return "", apierr.BadInput("shard transfer method %s is not supported", m)
}
