package routing

import (
	"connectrpc.com/connect"
	"context"
	"errors"
	"strings"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// ReadCall is one read on one replica of a shard. It returns the raw
// Connect error so that the reader can tell a failed replica from a bad
// request.
type ReadCall func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) error

// Read runs call on one ACTIVE replica of shard. Replicas are tried in
// round-robin order, starting at a different one on every call so that
// reads spread over the replicas; a replica whose node is not registered,
// is unreachable or answers Unavailable (or FailedPrecondition / Aborted:
// it cannot serve now; or NotFound: it does not hold the replica the map
// says it has) is skipped for the next one. Any other error ends
// the read. With no ACTIVE replica the error is Unavailable "No active
// replica for shard N"; when every ACTIVE replica failed it is
// Unavailable with the last failure.
//
// Only ACTIVE replicas serve reads: PARTIAL, RECOVERY and INITIALIZING
// ones may miss data, LISTENER ones are not for reads, DEAD ones are stale.
func (r *Router) Read(ctx context.Context, c *Collection, shardID uint32, what string, call ReadCall) error {
	shard, err := c.Shard(shardID)
	if err != nil {
		return err
	}
	var active []uint64
	for _, rep := range shard.GetReplicas() {
		if rep.GetState() == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
			active = append(active, rep.GetNodeId())
		}
	}
	if len(active) == 0 {
		return apierr.NoService("No active replica for shard %d", shardID)
	}
	start := int(r.next.Add(1) % uint64(len(active)))
	var last error
	for i := range active {
		node := active[(start+i)%len(active)]
		cl, err := r.ReplicaClient(node)
		if err != nil {
			last = err
			continue
		}
		err = call(ctx, cl, c.Ref(shardID))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !replicaFailed(err) {
			return apierr.FromConnect(err, shardWhat(c, shardID, what))
		}
		last = replicaError(err, shardWhat(c, shardID, what))
	}
	var typed *apierr.Error
	if errors.As(last, &typed) && typed.Kind == apierr.Unavailable {
		return apierr.NoService("No active replica for shard %d answered: %s", shardID, strings.TrimPrefix(typed.Msg, "Service unavailable: "))
	}
	return last
}

// replicaFailed reports whether an error from a replica means the replica,
// not the request, failed: it is unreachable, cannot serve now, or does not
// hold the shard (NotFound from storage: the router already checked that
// the collection exists).
func replicaFailed(err error) bool {
	return apierr.Retryable(err) || connect.CodeOf(err) == connect.CodeNotFound
}

// replicaError maps a replica's error; a replica that does not hold the
// shard is Unavailable rather than NotFound, which would tell the client
// that the collection or point does not exist.
func replicaError(err error, what string) error {
	if connect.CodeOf(err) == connect.CodeNotFound {
		var ce *connect.Error
		msg := err.Error()
		if errors.As(err, &ce) {
			msg = ce.Message()
		}
		return apierr.NoService("%s: replica not held: %s", what, msg)
	}
	return apierr.FromConnect(err, what)
}
