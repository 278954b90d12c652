package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"

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

// readShard reads one shard with the consistency ctx carries (see
// WithConsistency): the default reads one replica through Read; a higher
// consistency asks several replicas (readReplicas) and resolves their
// answers into one with resolve.
func readShard[T any](r *Router, ctx context.Context, c *Collection, shardID uint32, what string,
	fetch func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) (T, error),
	resolve func(answers []T, keep int) T,
) (T, error) {
	var out T
	rc := ConsistencyOf(ctx)
	if rc.Single() {
		err := r.Read(ctx, c, shardID, what, func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) error {
			v, err := fetch(ctx, cl, ref)
			if err != nil {
				return err
			}
			out = v
			return nil
		})
		return out, err
	}
	answers, keep, err := readReplicas(r, ctx, c, shardID, what, rc, fetch)
	if err != nil {
		return out, err
	}
	return resolve(answers, keep), nil
}

// readReplicas runs fetch on as many ACTIVE replicas of a shard as rc
// asks for, in parallel, starting at a different replica on every call.
// A replica that fails (unreachable, not serving, not holding the shard)
// is replaced by another ACTIVE replica not asked yet, while there is one;
// any other error ends the read. It returns the answers (at least the
// number rc needs) and in how many of them an item must be present to be
// kept. Too few ACTIVE or answering replicas is Unavailable (503).
func readReplicas[T any](r *Router, ctx context.Context, c *Collection, shardID uint32, what string, rc Consistency,
	fetch func(ctx context.Context, cl shoalv1connect.StorageServiceClient, ref *shoalv1.ShardRef) (T, error),
) ([]T, int, error) {
	shard, err := c.Shard(shardID)
	if err != nil {
		return nil, 0, err
	}
	var active []uint64
	for _, rep := range shard.GetReplicas() {
		if rep.GetState() == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
			active = append(active, rep.GetNodeId())
		}
	}
	if len(active) == 0 {
		return nil, 0, apierr.NoService("No active replica for shard %d", shardID)
	}
	ask, need, keep := rc.plan(len(active))
	if need > len(active) {
		return nil, 0, consistencyError(rc, shardID, need, 0, fmt.Sprintf("the shard has %d active replicas", len(active)))
	}
	start := int(r.next.Add(1) % uint64(len(active)))
	order := append(slices.Clone(active[start:]), active[:start]...)
	what = shardWhat(c, shardID, what)
	var answers []T
	var last error
	for next, batch := 0, ask; len(answers) < need && next < len(order); batch = need - len(answers) {
		nodes := order[next:min(next+batch, len(order))]
		next += len(nodes)
		got := make([]T, len(nodes))
		failed := make([]bool, len(nodes))
		errs := parallel(len(nodes), func(i int) error {
			cl, err := r.ReplicaClient(nodes[i])
			if err != nil {
				failed[i] = true
				return err
			}
			got[i], err = fetch(ctx, cl, c.Ref(shardID))
			failed[i] = err != nil && replicaFailed(err)
			return err
		})
		for i, err := range errs {
			switch {
			case err == nil:
				answers = append(answers, got[i])
			case ctx.Err() != nil || !failed[i]:
				return nil, 0, apierr.FromConnect(err, what)
			default:
				last = replicaError(err, what)
			}
		}
	}
	if len(answers) < need {
		detail := ""
		if last != nil {
			detail = strings.TrimPrefix(last.Error(), "Service unavailable: ")
		}
		return nil, 0, consistencyError(rc, shardID, need, len(answers), detail)
	}
	return answers, keep, nil
}
