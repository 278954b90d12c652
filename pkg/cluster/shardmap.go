package cluster

import (
	"context"
	"errors"
	"fmt"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// ErrShardMapGone is returned by UpdateShardMap when the collection's shard
// map does not exist or belongs to another creation (uid).
var ErrShardMapGone = errors.New("shard map gone")

// UpdateShardMap changes a collection's shard map with a compare-and-swap
// on the map's mod revision, retrying on conflict. edit receives a copy of
// the current map and returns whether it changed it; an unchanged map is
// not written. A written map has its epoch increased by one. uid, when not
// empty, must match the map's uid, else ErrShardMapGone. It returns the map
// as stored after the call.
//
// edit may run several times (once per conflict) and must decide from the
// map it is given alone.
func UpdateShardMap(ctx context.Context, cli *clientv3.Client, collection, uid string, edit func(m *shoalv1.ShardMap) (bool, error)) (*shoalv1.ShardMap, error) {
	key := ShardMapKey(collection)
	for {
		resp, err := cli.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read shard map %s: %w", collection, err)
		}
		if len(resp.Kvs) == 0 {
			return nil, fmt.Errorf("collection %s: %w", collection, ErrShardMapGone)
		}
		m := &shoalv1.ShardMap{}
		if err := proto.Unmarshal(resp.Kvs[0].Value, m); err != nil {
			return nil, fmt.Errorf("decode shard map %s: %w", collection, err)
		}
		if uid != "" && m.GetUid() != uid {
			return nil, fmt.Errorf("collection %s uid %s: %w", collection, uid, ErrShardMapGone)
		}
		changed, err := edit(m)
		if err != nil {
			return nil, err
		}
		if !changed {
			return m, nil
		}
		m.Epoch++
		val, err := proto.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode shard map %s: %w", collection, err)
		}
		txn, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)).
			Then(clientv3.OpPut(key, string(val))).
			Commit()
		if err != nil {
			return nil, fmt.Errorf("write shard map %s: %w", collection, err)
		}
		if txn.Succeeded {
			return m, nil
		}
	}
}

// FindShard returns the shard with the given id, or nil.
func FindShard(m *shoalv1.ShardMap, id uint32) *shoalv1.Shard {
	for _, sh := range m.GetShards() {
		if sh.GetId() == id {
			return sh
		}
	}
	return nil
}

// FindReplica returns the shard's replica on node, or nil.
func FindReplica(sh *shoalv1.Shard, node uint64) *shoalv1.Replica {
	for _, r := range sh.GetReplicas() {
		if r.GetNodeId() == node {
			return r
		}
	}
	return nil
}

// ActiveCount counts sh's Active replicas.
func ActiveCount(sh *shoalv1.Shard) int {
	n := 0
	for _, r := range sh.GetReplicas() {
		if r.GetState() == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
			n++
		}
	}
	return n
}

// RemoveReplica deletes node's replica from sh (nothing when it has none).
func RemoveReplica(sh *shoalv1.Shard, node uint64) {
	out := sh.Replicas[:0]
	for _, r := range sh.GetReplicas() {
		if r.GetNodeId() != node {
			out = append(out, r)
		}
	}
	sh.Replicas = out
}

// Updatable reports whether a replica in state st receives writes from
// its primary: Active, Partial, Recovery and Listener replicas do;
// Initializing ones do too (they are empty and being created with the
// collection); Dead ones do not.
func Updatable(st shoalv1.ReplicaState) bool {
	switch st {
	case shoalv1.ReplicaState_REPLICA_STATE_ACTIVE, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL,
		shoalv1.ReplicaState_REPLICA_STATE_RECOVERY, shoalv1.ReplicaState_REPLICA_STATE_LISTENER,
		shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING:
		return true
	}
	return false
}
