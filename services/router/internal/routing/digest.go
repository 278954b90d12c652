package routing

import (
	"context"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// ReplicaDigest is one replica's digest (see the storage's Digest RPC), or
// the error that prevented it.
type ReplicaDigest struct {
	Node    uint64
	State   shoalv1.ReplicaState
	Primary bool
	Digest  *shoalv1.DigestResponse
	Err     error
}

// ShardDigests are the digests of every replica of one shard.
type ShardDigests struct {
	Shard    uint32
	Term     uint64
	Replicas []ReplicaDigest
}

// Digests asks every replica of every shard (whatever its state), in
// parallel, for its digest: the order-independent checksum of its points
// at its current sequence number. Replicas holding the same points give
// the same digest, so operators and tests can prove replicas identical.
func (r *Router) Digests(ctx context.Context, c *Collection) []ShardDigests {
	type job struct{ shard, replica int }
	out := make([]ShardDigests, len(c.Map.GetShards()))
	var jobs []job
	for i, sh := range c.Map.GetShards() {
		out[i] = ShardDigests{Shard: sh.GetId(), Term: sh.GetTerm(), Replicas: make([]ReplicaDigest, len(sh.GetReplicas()))}
		for j, rep := range sh.GetReplicas() {
			out[i].Replicas[j] = ReplicaDigest{Node: rep.GetNodeId(), State: rep.GetState(), Primary: rep.GetNodeId() == sh.GetPrimary()}
			jobs = append(jobs, job{i, j})
		}
	}
	parallel(len(jobs), func(k int) error {
		sd := &out[jobs[k].shard]
		rd := &sd.Replicas[jobs[k].replica]
		what := shardWhat(c, sd.Shard, "digest")
		cl, err := r.ReplicaClient(rd.Node)
		if err != nil {
			rd.Err = err
			return nil
		}
		resp, err := cl.Digest(ctx, connect.NewRequest(&shoalv1.DigestRequest{Shard: c.Ref(sd.Shard)}))
		if err != nil {
			rd.Err = replicaError(err, what)
			return nil
		}
		rd.Digest = resp.Msg
		return nil
	})
	return out
}
