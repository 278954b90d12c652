package cluster

import (
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func TestTransferLoad(t *testing.T) {
	const (
		active    = shoalv1.ReplicaState_REPLICA_STATE_ACTIVE
		partial   = shoalv1.ReplicaState_REPLICA_STATE_PARTIAL
		dead      = shoalv1.ReplicaState_REPLICA_STATE_DEAD
		replicate = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_REPLICATE
		move      = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_MOVE
		drop      = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_DROP
	)
	rep := func(node uint64, st shoalv1.ReplicaState) *shoalv1.Replica {
		return &shoalv1.Replica{NodeId: node, State: st}
	}
	m := &shoalv1.ShardMap{Uid: "u", Shards: []*shoalv1.Shard{
		{Id: 0, Primary: 1, Replicas: []*shoalv1.Replica{rep(1, active), rep(2, partial)}}, // move 1->2 in flight
		{Id: 1, Primary: 1, Replicas: []*shoalv1.Replica{rep(1, active), rep(3, partial)}}, // recovery by primary 1
		{Id: 2, Primary: 4, Replicas: []*shoalv1.Replica{rep(4, active), rep(5, active)}},  // replicate 4->5 done
		{Id: 3, Primary: 4, Replicas: []*shoalv1.Replica{rep(4, active), rep(6, dead)}},    // Dead: nothing in flight
	}}
	records := []*shoalv1.ShardTransfer{
		{Uid: "u", ShardId: 0, FromNode: 1, ToNode: 2, Kind: move},
		{Uid: "u", ShardId: 2, FromNode: 4, ToNode: 5, Kind: replicate},
		{Uid: "u", ShardId: 3, FromNode: 4, ToNode: 7, Kind: replicate, Queued: true},
		{Uid: "u", ShardId: 3, FromNode: 4, Kind: drop},
		{Uid: "other", ShardId: 0, FromNode: 8, ToNode: 9, Kind: replicate}, // its map not read yet
	}
	l := NewTransferLoad(TransferLimits{Incoming: 1, Outgoing: 2}, []*shoalv1.ShardMap{m}, records)
	wantIn := map[uint64]int{2: 1, 3: 1, 9: 1}
	wantOut := map[uint64]int{1: 2, 8: 1}
	for node := uint64(1); node <= 9; node++ {
		if l.In[node] != wantIn[node] || l.Out[node] != wantOut[node] {
			t.Errorf("node %d: in %d out %d, want %d %d", node, l.In[node], l.Out[node], wantIn[node], wantOut[node])
		}
	}
	f := func(from, to uint64, want bool) {
		t.Helper()
		if got := l.Allows(from, to); got != want {
			t.Errorf("Allows(%d, %d) = %v, want %v", from, to, got, want)
		}
	}
	f(1, 5, false) // node 1 sends 2 already
	f(4, 2, false) // node 2 receives 1 already
	f(4, 5, true)
	l.Take(4, 5)
	f(6, 5, false)
	f(8, 6, true)
	unlimited := NewTransferLoad(TransferLimits{}, []*shoalv1.ShardMap{m}, records)
	if !unlimited.Allows(1, 2) {
		t.Error("zero limits must allow everything")
	}
}
