package service

import (
	"context"
	"fmt"
	"strings"
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
	// OpCreateShardingKey and OpDropShardingKey are CreateShardKey and
	// DeleteShardKey given as cluster operations.
	OpCreateShardingKey = "create_sharding_key"
	OpDropShardingKey   = "drop_sharding_key"
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
	// CreateKey is create_sharding_key's body; DropKey drop_sharding_key's
	// key.
	CreateKey CreateShardKeyRequest
	DropKey   *shoalv1.ShardKey
}

// UpdateClusterSetup asks meta to apply op to the collection (named
// directly or through an alias) and returns once this router's state
// shows the change (or SettleTimeout passed). A transfer continues in the
// background: the target replica is Partial until the shard's primary has
// filled it; a move then drops the source replica.
func (s *Service) UpdateClusterSetup(ctx context.Context, name string, op ClusterOperation) error {
	switch op.Op {
	case OpCreateShardingKey:
		return s.CreateShardKey(ctx, name, op.CreateKey)
	case OpDropShardingKey:
		return s.DeleteShardKey(ctx, name, op.DropKey)
	}
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
			Comment: transferComment(t, target, s.progressOf(t)),
		})
	}
	return out
}

// progressOf returns the progress report of t's copy, if one runs.
func (s *Service) progressOf(t *shoalv1.ShardTransfer) *shoalv1.TransferProgress {
	p, ok := s.opt.State.TransferProgress(t.GetCollection(), t.GetShardId(), t.GetToNode())
	if !ok || p.GetUid() != t.GetUid() {
		return nil
	}
	return p
}

// transferComment says where a transfer stands: the copy's progress while
// the primary reports one, else the target replica's state.
func transferComment(t *shoalv1.ShardTransfer, target shoalv1.ReplicaState, p *shoalv1.TransferProgress) string {
	started := time.UnixMilli(t.GetStartedUnixMs()).UTC().Format(time.RFC3339)
	if t.GetQueued() {
		return fmt.Sprintf("queued: waiting for a free transfer slot on its source or target (requested %s)", started)
	}
	if p != nil && target != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
		return progressComment(p) + fmt.Sprintf(" (started %s)", started)
	}
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

// progressComment renders a progress report: method, amount done of the
// total, rate and time left, and why the method differs from the one
// asked for, e.g. "snapshot: 120.0 MiB of 300.0 MiB (40%), 210.5 MiB/s,
// ETA 1s".
func progressComment(p *shoalv1.TransferProgress) string {
	var b strings.Builder
	b.WriteString(p.GetMethod())
	b.WriteString(": ")
	elapsed := time.Duration(p.GetUpdatedUnixMs()-p.GetStartedUnixMs()) * time.Millisecond
	done, total, unit := float64(p.GetRecordsDone()), float64(p.GetRecordsTotal()), "records"
	if p.GetMethod() == "snapshot" || (p.GetRecordsDone() == 0 && p.GetBytesDone() > 0) {
		done, total, unit = float64(p.GetBytesDone())/(1<<20), float64(p.GetBytesTotal())/(1<<20), "MiB"
		if p.GetBytesTotal() < 0 {
			total = -1
		}
	}
	if unit == "MiB" {
		fmt.Fprintf(&b, "%.1f MiB", done)
	} else {
		fmt.Fprintf(&b, "%.0f records", done)
	}
	if total > 0 {
		if unit == "MiB" {
			fmt.Fprintf(&b, " of %.1f MiB", total)
		} else {
			fmt.Fprintf(&b, " of %.0f", total)
		}
		fmt.Fprintf(&b, " (%.0f%%)", 100*min(done/total, 1))
	}
	if secs := elapsed.Seconds(); secs > 0 && done > 0 {
		rate := done / secs
		if unit == "MiB" {
			fmt.Fprintf(&b, ", %.1f MiB/s", rate)
		} else {
			fmt.Fprintf(&b, ", %.0f records/s", rate)
		}
		if total > done {
			fmt.Fprintf(&b, ", ETA %s", (time.Duration((total - done) / rate * float64(time.Second))).Round(time.Second))
		}
	}
	if p.GetNote() != "" {
		b.WriteString("; ")
		b.WriteString(p.GetNote())
	}
	return b.String()
}
