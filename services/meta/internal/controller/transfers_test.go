package controller

import (
	"context"
	"testing"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func (e *env) record(t *shoalv1.ShardTransfer) string {
	e.t.Helper()
	key := cluster.TransferKey(t.GetCollection(), t.GetShardId(), t.GetFromNode(), t.GetToNode())
	e.put(key, t)
	return key
}

func (e *env) recordGone(key string) bool {
	e.t.Helper()
	resp, err := e.cli.Get(context.Background(), key)
	if err != nil {
		e.t.Fatalf("get %s: %v", key, err)
	}
	return len(resp.Kvs) == 0
}

// setState sets a replica's state in the stored map, as the shard's
// primary does once it has caught a replica up.
func (e *env) setState(name string, shard uint32, node uint64, st shoalv1.ReplicaState) {
	e.t.Helper()
	_, err := cluster.UpdateShardMap(context.Background(), e.cli, name, "", func(m *shoalv1.ShardMap) (bool, error) {
		cluster.FindReplica(cluster.FindShard(m, shard), node).State = st
		return true, nil
	})
	if err != nil {
		e.t.Fatalf("set state: %v", err)
	}
}

// handOverAsPrimary waits until the controller asks the primary of a
// shard to hand over (handover_to), then does what the primary does once
// the target holds its whole log: makes it primary with the term
// increased. It returns the target.
func (e *env) handOverAsPrimary(name string, shard uint32) uint64 {
	e.t.Helper()
	m := e.waitMap(name, "hand-over asked", func(m *shoalv1.ShardMap) bool { return cluster.FindShard(m, shard).GetHandoverTo() != 0 })
	to := cluster.FindShard(m, shard).GetHandoverTo()
	_, err := cluster.UpdateShardMap(context.Background(), e.cli, name, "", func(m *shoalv1.ShardMap) (bool, error) {
		sh := cluster.FindShard(m, shard)
		sh.Primary, sh.Term, sh.HandoverTo = to, sh.Term+1, 0
		return true, nil
	})
	if err != nil {
		e.t.Fatalf("hand over: %v", err)
	}
	return to
}

// TestMoveHandsOverThenDrops drives a move whose source is the primary:
// the controller asks the primary to hand its role to the most advanced
// other Active replica (handover_to) and changes nothing else; once the
// primary has done so (term + 1), the source replica is dropped and the
// record deleted.
func TestMoveHandsOverThenDrops(t *testing.T) {
	e := startEnv(t)
	for _, id := range []uint64{1, 2, 3} {
		e.register(id, nodeTypeNormal)
	}
	e.collection("c", shard(0, 1, "1:A", "2:A", "3:P"))
	key := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "uid-c", ShardId: 0, FromNode: 1, ToNode: 3, Kind: kindMove, Method: "snapshot"})
	pos := newFakePositions()
	pos.set(1, 0, 1, 20)
	pos.set(2, 0, 1, 10)
	pos.set(3, 0, 1, 15)
	e.controller(100, pos)

	e.setState("c", 0, 3, stateActive)
	to := e.handOverAsPrimary("c", 0)
	if to != 3 {
		t.Fatalf("hand-over asked to node %d, want the most advanced other replica 3", to)
	}
	m := e.waitMap("c", "source dropped", func(m *shoalv1.ShardMap) bool { return cluster.FindReplica(m.Shards[0], 1) == nil })
	if sh := m.Shards[0]; sh.Primary != 3 || sh.Term != 2 || replicaState(m, 0, 2) != stateActive || replicaState(m, 0, 3) != stateActive {
		t.Fatalf("after the move: %s", describe(m))
	}
	waitFor(t, "record deleted", func() bool { return e.recordGone(key) })
}

// TestTransferRecordsEnd checks the other endings: a replicate whose
// target is Active, a drop of a primary (handed over first), records of
// a deleted collection or an aborted target, a move to a node that runs
// as a Listener (the source stays), and a drop of a follower.
func TestTransferRecordsEnd(t *testing.T) {
	e := startEnv(t)
	for _, id := range []uint64{1, 2, 3} {
		e.register(id, nodeTypeNormal)
	}
	e.collection("c",
		shard(0, 1, "1:A", "2:A", "3:A"),
		shard(1, 4, "2:A", "3:A"),
		shard(2, 1, "1:A", "2:A"),
		shard(3, 1, "1:A", "4:L"))
	e.register(4, nodeTypeListener)
	pos := newFakePositions()
	pos.set(2, 1, 4, 8)
	pos.set(3, 1, 4, 8)
	replicated := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "uid-c", ShardId: 0, FromNode: 1, ToNode: 3, Kind: kindReplicate})
	dropPrimary := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "uid-c", ShardId: 1, FromNode: 2, Kind: kindDrop})
	dropFollower := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "uid-c", ShardId: 2, FromNode: 2, Kind: kindDrop})
	aborted := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "uid-c", ShardId: 2, FromNode: 1, ToNode: 3, Kind: kindMove})
	toListener := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "uid-c", ShardId: 3, FromNode: 1, ToNode: 4, Kind: kindMove})
	otherUID := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "older", ShardId: 0, FromNode: 1, ToNode: 2, Kind: kindMove})
	e.controller(100, pos)
	if to := e.handOverAsPrimary("c", 1); to != 3 {
		t.Fatalf("shard 1 handed to node %d, want 3", to)
	}

	m := e.waitMap("c", "drops applied", func(m *shoalv1.ShardMap) bool {
		return cluster.FindReplica(cluster.FindShard(m, 1), 2) == nil && cluster.FindReplica(cluster.FindShard(m, 2), 2) == nil
	})
	if sh := cluster.FindShard(m, 1); sh.Primary != 3 || sh.Term != 5 {
		t.Fatalf("shard 1 not handed over before the drop: %s", describe(m))
	}
	if len(cluster.FindShard(m, 0).Replicas) != 3 || len(cluster.FindShard(m, 2).Replicas) != 1 || len(cluster.FindShard(m, 3).Replicas) != 2 {
		t.Fatalf("a record changed what it should not: %s", describe(m))
	}
	for name, key := range map[string]string{"replicated": replicated, "drop primary": dropPrimary, "drop follower": dropFollower, "aborted": aborted, "other uid": otherUID, "to listener": toListener} {
		waitFor(t, name+" record deleted", func() bool { return e.recordGone(key) })
	}
}
