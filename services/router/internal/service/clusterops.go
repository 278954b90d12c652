package service

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// Cluster operation names (Qdrant's POST /collections/{name}/cluster).
const (
	OpMoveShard       = "move_shard"
	OpReplicateShard  = "replicate_shard"
	OpDropReplica     = "drop_replica"
	OpAbortTransfer   = "abort_transfer"
	OpRestartTransfer = "restart_transfer"
)

// TransferMethods are the transfer methods a request may name.
var TransferMethods = []string{"stream_records", "snapshot", "wal_delta"}

// ClusterOperation is one cluster operation on a collection's shards.
type ClusterOperation struct {
	// Op is one of the Op* names.
	Op      string
	ShardID uint32
	// FromPeerID and ToPeerID name a transfer's source and target.
	FromPeerID, ToPeerID uint64
	// PeerID is drop_replica's peer.
	PeerID uint64
	// Method is a transfer method of TransferMethods, or "" (automatic).
	Method string
}

// UpdateClusterSetup asks meta to apply op to the collection (named
// directly or through an alias) and returns once this router's state
// shows the change (or SettleTimeout passed). A transfer continues in the
// background: the target replica is Partial until the shard's primary has
// filled it; a move then drops the source replica.
func (s *Service) UpdateClusterSetup(ctx context.Context, name string, op ClusterOperation) error {
	c, err := s.resolve(name)
	if err != nil {
		return err
	}
	req := &shoalv1.UpdateClusterSetupRequest{Collection: c.Name()}
	if op.Method != "" && !validMethod(op.Method) {
		return apierr.Format("Format error in JSON body: unknown variant `%s`, expected one of `stream_records`, `snapshot`, `wal_delta`", op.Method)
	}
	transfer := &shoalv1.ShardTransferOp{ShardId: op.ShardID, FromPeerId: op.FromPeerID, ToPeerId: op.ToPeerID, Method: op.Method}
	switch op.Op {
	case OpMoveShard:
		req.Operation = &shoalv1.UpdateClusterSetupRequest_MoveShard{MoveShard: transfer}
	case OpReplicateShard:
		req.Operation = &shoalv1.UpdateClusterSetupRequest_ReplicateShard{ReplicateShard: transfer}
	case OpRestartTransfer:
		req.Operation = &shoalv1.UpdateClusterSetupRequest_RestartTransfer{RestartTransfer: transfer}
	case OpDropReplica:
		req.Operation = &shoalv1.UpdateClusterSetupRequest_DropReplica{DropReplica: &shoalv1.DropReplicaOp{ShardId: op.ShardID, PeerId: op.PeerID}}
	case OpAbortTransfer:
		req.Operation = &shoalv1.UpdateClusterSetupRequest_AbortTransfer{AbortTransfer: &shoalv1.AbortTransferOp{ShardId: op.ShardID, FromPeerId: op.FromPeerID, ToPeerId: op.ToPeerID}}
	default:
		return apierr.Format("Format error in JSON body: unknown cluster operation `%s`", op.Op)
	}
	var rev int64
	err = s.callMeta(ctx, op.Op, func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.UpdateClusterSetup(ctx, connect.NewRequest(req))
		if err == nil {
			rev = r.Msg.GetRevision()
		}
		return err
	})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.opt.SettleTimeout)
	defer cancel()
	if err := s.opt.State.WaitRevision(wctx, rev); err != nil {
		s.opt.Log.Warn().Err(err).Str("collection", c.Name()).Str("op", op.Op).Msg("cluster state did not catch up with the cluster operation; answering anyway")
	}
	return nil
}

func validMethod(m string) bool {
	for _, x := range TransferMethods {
		if x == m {
			return true
		}
	}
	return false
}

// ShardTransfer is one transfer in flight in a collection's cluster info.
type ShardTransfer struct {
	ShardID  uint32
	From, To uint64
	// Sync is true for a replication (the source keeps its replica) and
	// false for a move.
	Sync bool
	// Method is the method asked for; "" when automatic.
	Method string
	// Comment describes the transfer's state.
	Comment string
}

// shardTransfers lists the collection's transfers in flight from the
// watched state (drops of a primary are not transfers and are left out).
func (s *Service) shardTransfers(c *routing.Collection) []ShardTransfer {
	out := []ShardTransfer{}
	for _, t := range s.opt.State.Transfers(c.Name()) {
		if t.GetKind() == shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_DROP || t.GetUid() != c.Meta.GetUid() {
			continue
		}
		target := shoalv1.ReplicaState_REPLICA_STATE_UNSPECIFIED
		if sh := cluster.FindShard(c.Map, t.GetShardId()); sh != nil {
			if r := cluster.FindReplica(sh, t.GetToNode()); r != nil {
				target = r.GetState()
			}
		}
		out = append(out, ShardTransfer{
			ShardID: t.GetShardId(), From: t.GetFromNode(), To: t.GetToNode(),
			Sync:    t.GetKind() == shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_REPLICATE,
			Method:  t.GetMethod(),
			Comment: transferComment(t, target),
		})
	}
	return out
}

// transferComment says where a transfer stands, from its target
// replica's state.
func transferComment(t *shoalv1.ShardTransfer, target shoalv1.ReplicaState) string {
	started := time.UnixMilli(t.GetStartedUnixMs()).UTC().Format(time.RFC3339)
	var stage string
	switch target {
	case shoalv1.ReplicaState_REPLICA_STATE_ACTIVE:
		stage = "target replica Active"
		if t.GetKind() == shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_MOVE {
			stage += "; dropping the source replica"
		}
	case shoalv1.ReplicaState_REPLICA_STATE_DEAD:
		stage = "target replica Dead; waiting for its node"
	default:
		stage = fmt.Sprintf("target replica %s; the primary is copying the shard to it", ReplicaStateName(target))
	}
	return fmt.Sprintf("%s (started %s)", stage, started)
}
