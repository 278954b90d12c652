package routing

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// WriteOp is one shard's part of a write: exactly one of Upsert, Delete
// and Op is set. Upsert and Delete use the storage's Upsert and
// DeletePoints calls; Op (any other operation: payload, vectors, deletion
// by filter, field indexes) uses its general Update call.
type WriteOp struct {
	Upsert []*shoalv1.Point
	Delete []*shoalv1.PointID
	Op     *shoalv1.Operation
	// Wait asks for the write to be applied and durable before the answer.
	Wait bool
}

// ShardWriter applies one shard's part of a write and returns the shard's
// answer.
//
// This is the seam for replication: today the BroadcastWriter sends the
// write to every replica itself; the replication issue replaces it with a
// writer that sends the write to the shard's primary (Shard.primary, with
// Shard.term), which sequences it and replicates it to the other replicas,
// and that retries on the new primary when the shard map moves on. Nothing
// above this interface changes when it is swapped.
type ShardWriter interface {
	Write(ctx context.Context, c *Collection, shard *shoalv1.Shard, op WriteOp) (*shoalv1.UpdateResponse, error)
}

// ReplicaClients looks up the client of a replica's node; *Router
// implements it.
type ReplicaClients interface {
	ReplicaClient(nodeID uint64) (shoalv1connect.StorageServiceClient, error)
}

// BroadcastWriter sends a write to every replica of the shard that is not
// DEAD, in parallel, and succeeds only when all of them acknowledge it. Its
// answer carries the highest sequence number the replicas gave and is
// completed only when every replica says so. It is the pre-replication
// writer; see ShardWriter.
type BroadcastWriter struct {
	Replicas ReplicaClients
}

// Write implements ShardWriter.
func (w *BroadcastWriter) Write(ctx context.Context, c *Collection, shard *shoalv1.Shard, op WriteOp) (*shoalv1.UpdateResponse, error) {
	var targets []uint64
	for _, rep := range shard.GetReplicas() {
		if rep.GetState() != shoalv1.ReplicaState_REPLICA_STATE_DEAD {
			targets = append(targets, rep.GetNodeId())
		}
	}
	if len(targets) == 0 {
		return nil, apierr.NoService("No active replica for shard %d", shard.GetId())
	}
	answers := make([]*shoalv1.UpdateResponse, len(targets))
	errs := parallel(len(targets), func(i int) error {
		cl, err := w.Replicas.ReplicaClient(targets[i])
		if err != nil {
			return err
		}
		what := fmt.Sprintf("write to shard %d of `%s` on node %d", shard.GetId(), c.Name(), targets[i])
		ref := c.Ref(shard.GetId())
		var resp *connect.Response[shoalv1.UpdateResponse]
		switch {
		case op.Op != nil:
			resp, err = cl.Update(ctx, connect.NewRequest(&shoalv1.UpdateRequest{Shard: ref, Op: op.Op, Wait: op.Wait}))
		case op.Delete != nil:
			resp, err = cl.DeletePoints(ctx, connect.NewRequest(&shoalv1.DeletePointsRequest{Shard: ref, Ids: op.Delete, Wait: op.Wait}))
		default:
			resp, err = cl.Upsert(ctx, connect.NewRequest(&shoalv1.UpsertRequest{Shard: ref, Points: op.Upsert, Wait: op.Wait}))
		}
		if err != nil {
			return replicaError(err, what)
		}
		answers[i] = resp.Msg
		return nil
	})
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	out := &shoalv1.UpdateResponse{Completed: true}
	for _, a := range answers {
		out.Seq = max(out.Seq, a.GetSeq())
		out.Completed = out.Completed && a.GetCompleted()
	}
	return out, nil
}
