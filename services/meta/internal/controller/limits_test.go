package controller

import (
	"context"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	"google.golang.org/protobuf/proto"
)

// controllerWith starts a controller with cfg's limits, lost delay and
// rebalance switch; it stops when the test ends.
// Every node 1-5 reports a position for shards 0-7.
func (e *env) controllerWith(cfg Config) *Controller {
	pos := newFakePositions()
	for node := uint64(1); node <= 5; node++ {
		for sh := uint32(0); sh < 8; sh++ {
			pos.set(node, sh, 1, node)
		}
	}
	cfg.Client, cfg.State, cfg.Positions, cfg.ID, cfg.LeaseTTL, cfg.Resync, cfg.Log =
		e.cli, e.state, pos, 100, 2, 200*time.Millisecond, testutil.Logger(e.t)
	c := Start(cfg)
	e.t.Cleanup(c.Close)
	return c
}

// collectionRF is collection with a replication factor.
func (e *env) collectionRF(name string, rf uint32, shards ...*shoalv1.Shard) {
	e.t.Helper()
	uid := "uid-" + name
	e.put(cluster.CollectionKey(name), &shoalv1.Collection{Name: name, Uid: uid, Config: &shoalv1.CollectionConfig{ShardNumber: uint32(len(shards)), ReplicationFactor: rf}})
	e.put(cluster.ShardMapKey(name), &shoalv1.ShardMap{Collection: name, Uid: uid, Epoch: 1, Shards: shards})
}

// playHandover does what a primary asked to hand over does, if it is.
func (e *env) playHandover(name string, shard uint32) {
	e.t.Helper()
	_, err := cluster.UpdateShardMap(context.Background(), e.cli, name, "", func(m *shoalv1.ShardMap) (bool, error) {
		sh := cluster.FindShard(m, shard)
		if sh.GetHandoverTo() == 0 {
			return false, nil
		}
		sh.Primary, sh.Term, sh.HandoverTo = sh.HandoverTo, sh.Term+1, 0
		return true, nil
	})
	if err != nil {
		e.t.Fatalf("hand over: %v", err)
	}
}

func (e *env) transfer(key string) *shoalv1.ShardTransfer {
	e.t.Helper()
	resp, err := e.cli.Get(context.Background(), key)
	if err != nil {
		e.t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	t := &shoalv1.ShardTransfer{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, t); err != nil {
		e.t.Fatal(err)
	}
	return t
}

func TestQueuedTransferStartsWhenSlotFrees(t *testing.T) {
	e := startEnv(t)
	for _, id := range []uint64{1, 2, 3} {
		e.register(id, nodeTypeNormal)
	}
	e.collection("c", shard(0, 1, "1:A", "2:P"), shard(1, 1, "1:A"))
	running := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "uid-c", ShardId: 0, FromNode: 1, ToNode: 2, Kind: kindReplicate})
	queued := e.record(&shoalv1.ShardTransfer{Collection: "c", Uid: "uid-c", ShardId: 1, FromNode: 1, ToNode: 3, Kind: kindReplicate, Queued: true})
	e.controllerWith(Config{Limits: cluster.TransferLimits{Incoming: 1, Outgoing: 1}})

	// Node 1's one outgoing slot is taken: the queued record waits, and
	// its target gets no replica. A record of a collection that does not
	// exist shows when a pass has run: the pass that deletes it has also
	// judged the queued record (queued records come last).
	probe := e.record(&shoalv1.ShardTransfer{Collection: "gone", Uid: "x", ShardId: 0, FromNode: 1, ToNode: 2, Kind: kindReplicate})
	waitFor(t, "a controller pass", func() bool { return e.recordGone(probe) })
	if tr := e.transfer(queued); tr == nil || !tr.GetQueued() || replicaState(e.shardMap("c"), 1, 3) != shoalv1.ReplicaState_REPLICA_STATE_UNSPECIFIED {
		t.Fatalf("queued transfer must wait for node 1's slot: record %v, map %s", tr, describe(e.shardMap("c")))
	}
	// The running transfer ends: the queued one starts.
	e.setState("c", 0, 2, stateActive)
	e.waitMap("c", "queued transfer's target Partial", func(m *shoalv1.ShardMap) bool { return replicaState(m, 1, 3) == statePartial })
	waitFor(t, "record started", func() bool { tr := e.transfer(queued); return tr != nil && !tr.GetQueued() })
	waitFor(t, "finished record gone", func() bool { return e.recordGone(running) })
}

func TestRevivalsWithinLimits(t *testing.T) {
	e := startEnv(t)
	for _, id := range []uint64{1, 2} {
		e.register(id, nodeTypeNormal)
	}
	e.collection("c", shard(0, 1, "1:A", "2:D"), shard(1, 1, "1:A", "2:D"))
	e.controllerWith(Config{Limits: cluster.TransferLimits{Incoming: 1, Outgoing: 1}})
	// One recovery at a time into node 2: the other stays Dead until the
	// first is Active (nothing else sets it Active here).
	m := e.waitMap("c", "one replica Partial", func(m *shoalv1.ShardMap) bool {
		return replicaState(m, 0, 2) == statePartial || replicaState(m, 1, 2) == statePartial
	})
	first, second := uint32(0), uint32(1)
	if replicaState(m, 1, 2) == statePartial {
		first, second = 1, 0
	}
	if replicaState(m, second, 2) != stateDead {
		t.Fatalf("two recoveries into node 2 at once: %s", describe(m))
	}
	e.setState("c", first, 2, stateActive)
	e.waitMap("c", "second replica Partial", func(m *shoalv1.ShardMap) bool { return replicaState(m, second, 2) == statePartial })
}

func TestLostReplicaRecreated(t *testing.T) {
	e := startEnv(t)
	for _, id := range []uint64{1, 2, 3} {
		e.register(id, nodeTypeNormal)
	}
	// Node 4 never registers: after ReplicaLostAfter its replica is
	// replaced on node 3 (node 2 holds the shard already). Node 5 is
	// marked removed: its replica is replaced at once.
	e.collectionRF("c", 2, shard(0, 1, "1:A", "4:A"), shard(1, 1, "2:A", "5:A"))
	mark, _ := proto.Marshal(&shoalv1.PeerMark{NodeId: 5, Removed: true})
	if _, err := e.cli.Put(context.Background(), cluster.PeerKey(5), string(mark)); err != nil {
		t.Fatal(err)
	}
	e.controllerWith(Config{ReplicaLostAfter: 500 * time.Millisecond})
	m := e.waitMap("c", "lost replicas replaced", func(m *shoalv1.ShardMap) bool {
		s0, s1 := cluster.FindShard(m, 0), cluster.FindShard(m, 1)
		return cluster.FindReplica(s0, 4) == nil && cluster.FindReplica(s1, 5) == nil &&
			(replicaState(m, 0, 2) == statePartial || replicaState(m, 0, 3) == statePartial)
	})
	for _, sh := range m.Shards {
		if len(sh.Replicas) != 2 {
			t.Fatalf("shard %d must have 2 replicas again: %s", sh.Id, describe(m))
		}
	}
}

func TestDrainAndRebalance(t *testing.T) {
	e := startEnv(t)
	for _, id := range []uint64{1, 2, 3} {
		e.register(id, nodeTypeNormal)
	}
	// Four shards rf 2 all on nodes 1 and 2; node 3 is empty.
	e.collectionRF("c", 2, shard(0, 1, "1:A", "2:A"), shard(1, 1, "2:A", "1:A"), shard(2, 1, "1:A", "2:A"), shard(3, 1, "2:A", "1:A"))
	e.controllerWith(Config{Rebalance: true, Limits: cluster.TransferLimits{Incoming: 1, Outgoing: 1}})
	counts := func(m *shoalv1.ShardMap) map[uint64]int {
		c := map[uint64]int{}
		for _, sh := range m.Shards {
			for _, r := range sh.Replicas {
				c[r.NodeId]++
			}
		}
		return c
	}
	// Play the primaries: fill every Partial replica (set it Active), and
	// check that node 3 never receives two at once.
	settle := func(what string, done func(m *shoalv1.ShardMap) bool) *shoalv1.ShardMap {
		return e.waitMap("c", what, func(m *shoalv1.ShardMap) bool {
			partial := 0
			for _, sh := range m.Shards {
				for _, r := range sh.Replicas {
					if r.State == statePartial {
						partial++
						e.setState("c", sh.Id, r.NodeId, stateActive)
					}
				}
			}
			if partial > 1 {
				t.Fatalf("node 3 (the only one below the others) receives %d transfers at once with limit 1: %s", partial, describe(m))
			}
			return partial == 0 && done(m)
		})
	}
	m := settle("rebalanced", func(m *shoalv1.ShardMap) bool { c := counts(m); return c[3] >= 2 && c[1] <= 3 && c[2] <= 3 })
	for _, sh := range m.Shards {
		if len(sh.Replicas) != 2 || sh.Replicas[0].NodeId == sh.Replicas[1].NodeId {
			t.Fatalf("shard %d: %s", sh.Id, describe(m))
		}
	}
	// Drain node 1: everything it holds moves to nodes 2 and 3 (the test
	// plays the primaries' hand-overs too).
	mark, _ := proto.Marshal(&shoalv1.PeerMark{NodeId: 1, Draining: true})
	if _, err := e.cli.Put(context.Background(), cluster.PeerKey(1), string(mark)); err != nil {
		t.Fatal(err)
	}
	m = e.waitMap("c", "node 1 drained", func(m *shoalv1.ShardMap) bool {
		for _, sh := range m.Shards {
			for _, r := range sh.Replicas {
				if r.State == statePartial {
					e.setState("c", sh.Id, r.NodeId, stateActive)
				}
			}
			if sh.HandoverTo != 0 {
				e.playHandover("c", sh.Id)
			}
		}
		return counts(m)[1] == 0
	})
	for _, sh := range m.Shards {
		if len(sh.Replicas) != 2 || cluster.FindReplica(sh, sh.Primary) == nil {
			t.Fatalf("after drain, shard %d: %s", sh.Id, describe(m))
		}
	}
}
