package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/logging"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/etcdserver"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// env is one embedded etcd member with a watched cluster state.
type env struct {
	t     *testing.T
	cli   *clientv3.Client
	state *cluster.State
}

func startEnv(t *testing.T) *env {
	t.Helper()
	log := testutil.Logger(t)
	srv, err := etcdserver.Start(context.Background(), testutil.Node(t, t.TempDir()), log)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(srv.Close)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.LocalClientURL()}, DialTimeout: 5 * time.Second, Logger: logging.Zap(log)})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	st, err := cluster.WatchState(context.Background(), cli, log)
	if err != nil {
		t.Fatalf("watch state: %v", err)
	}
	t.Cleanup(st.Close)
	return &env{t: t, cli: cli, state: st}
}

// controller starts a controller that stops when the test ends.
func (e *env) controller(id uint64, pos Positions) *Controller {
	c := Start(Config{Client: e.cli, State: e.state, Positions: pos, ID: id, LeaseTTL: 2, Resync: 200 * time.Millisecond, Log: testutil.Logger(e.t)})
	e.t.Cleanup(c.Close)
	return c
}

func (e *env) put(key string, m proto.Message, opts ...clientv3.OpOption) {
	e.t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.cli.Put(context.Background(), key, string(b), opts...); err != nil {
		e.t.Fatalf("put %s: %v", key, err)
	}
}

// register registers a storage node under a lease of its own and returns
// the lease, which the test revokes to make the node's lease lapse.
func (e *env) register(id uint64, typ shoalv1.NodeType) clientv3.LeaseID {
	e.t.Helper()
	lease, err := e.cli.Grant(context.Background(), 60)
	if err != nil {
		e.t.Fatalf("grant: %v", err)
	}
	e.put(cluster.NodeKey(id), &shoalv1.Node{Id: id, Tier: storageTier, NodeType: typ, Uri: fmt.Sprintf("http://storage-%d:6335", id)}, clientv3.WithLease(lease.ID))
	return lease.ID
}

func (e *env) revoke(lease clientv3.LeaseID) {
	e.t.Helper()
	if _, err := e.cli.Revoke(context.Background(), lease); err != nil {
		e.t.Fatalf("revoke: %v", err)
	}
}

// collection stores a collection named name whose shard map has shards.
func (e *env) collection(name string, shards ...*shoalv1.Shard) {
	e.t.Helper()
	uid := "uid-" + name
	e.put(cluster.CollectionKey(name), &shoalv1.Collection{Name: name, Uid: uid, Config: &shoalv1.CollectionConfig{ShardNumber: uint32(len(shards))}})
	e.put(cluster.ShardMapKey(name), &shoalv1.ShardMap{Collection: name, Uid: uid, Epoch: 1, Shards: shards})
}

func (e *env) shardMap(name string) *shoalv1.ShardMap {
	e.t.Helper()
	resp, err := e.cli.Get(context.Background(), cluster.ShardMapKey(name))
	if err != nil || len(resp.Kvs) != 1 {
		e.t.Fatalf("get shard map %s: %v", name, err)
	}
	m := &shoalv1.ShardMap{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// waitMap waits until cond holds for the stored map and returns it. The
// deadline only bounds a broken test; no assertion depends on timing.
func (e *env) waitMap(name, what string, cond func(m *shoalv1.ShardMap) bool) *shoalv1.ShardMap {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := e.shardMap(name)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: never happened; map: %s", what, describe(m))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func describe(m *shoalv1.ShardMap) string {
	s := fmt.Sprintf("epoch %d", m.Epoch)
	for _, sh := range m.Shards {
		s += fmt.Sprintf("; shard %d: %s", sh.Id, states(sh))
	}
	return s
}

func replicaState(m *shoalv1.ShardMap, shardID uint32, node uint64) shoalv1.ReplicaState {
	r := cluster.FindReplica(cluster.FindShard(m, shardID), node)
	if r == nil {
		return shoalv1.ReplicaState_REPLICA_STATE_UNSPECIFIED
	}
	return r.State
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeadOnLeaseLossAndBack(t *testing.T) {
	e := startEnv(t)
	leases := map[uint64]clientv3.LeaseID{}
	for _, id := range []uint64{1, 2, 3} {
		leases[id] = e.register(id, nodeTypeNormal)
	}
	e.collection("c", shard(0, 1, "1:A", "2:A", "3:A"), shard(1, 1, "2:A", "3:A"))
	e.controller(100, newFakePositions())

	// Node 3's lease lapses: its replicas become Dead, nothing else moves.
	e.revoke(leases[3])
	m := e.waitMap("c", "node 3's replicas Dead", func(m *shoalv1.ShardMap) bool {
		return replicaState(m, 0, 3) == stateDead && replicaState(m, 1, 3) == stateDead
	})
	if s0, s1 := cluster.FindShard(m, 0), cluster.FindShard(m, 1); s0.Primary != 1 || s0.Term != 1 || s1.Primary != 2 || s1.Term != 1 ||
		replicaState(m, 0, 1) != stateActive || replicaState(m, 0, 2) != stateActive || replicaState(m, 1, 2) != stateActive || m.Epoch < 2 {
		t.Fatalf("after node 3 left: %s", describe(m))
	}

	// Node 2 goes too. In shard 0 its replica dies; in shard 1 it is the
	// primary and the last Active replica, so it stays Active (one write
	// decides both shards).
	e.revoke(leases[2])
	m = e.waitMap("c", "node 2's replica of shard 0 Dead", func(m *shoalv1.ShardMap) bool { return replicaState(m, 0, 2) == stateDead })
	if replicaState(m, 1, 2) != stateActive || cluster.FindShard(m, 1).Primary != 2 || replicaState(m, 0, 1) != stateActive {
		t.Fatalf("the last Active replica of shard 1 must stay Active: %s", describe(m))
	}

	// Node 3 is back: shard 0 has a live primary, so its replica there
	// becomes Partial; shard 1's primary is gone, so it stays Dead.
	leases[3] = e.register(3, nodeTypeNormal)
	m = e.waitMap("c", "node 3's replica of shard 0 Partial", func(m *shoalv1.ShardMap) bool { return replicaState(m, 0, 3) == statePartial })
	if replicaState(m, 1, 3) != stateDead || replicaState(m, 0, 2) != stateDead {
		t.Fatalf("without a live primary a returning replica stays Dead: %s", describe(m))
	}
	// Node 2 is back too: shard 1's primary lives again, so node 3's
	// replica there becomes Partial, as does node 2's in shard 0.
	e.register(2, nodeTypeNormal)
	m = e.waitMap("c", "both returning replicas Partial", func(m *shoalv1.ShardMap) bool {
		return replicaState(m, 1, 3) == statePartial && replicaState(m, 0, 2) == statePartial
	})
	if cluster.FindShard(m, 1).Term != 1 || cluster.FindShard(m, 1).Primary != 2 {
		t.Fatalf("shard 1 must keep its primary and term: %s", describe(m))
	}
}

func TestFailover(t *testing.T) {
	e := startEnv(t)
	leases := map[uint64]clientv3.LeaseID{}
	for _, id := range []uint64{1, 2, 3, 4} {
		leases[id] = e.register(id, nodeTypeNormal)
	}
	e.collection("c",
		shard(0, 1, "1:A", "2:A", "3:A", "4:P"),
		shard(1, 3, "1:A", "2:A", "3:A"),
		shard(2, 1, "1:A", "2:A", "3:A"),
		shard(3, 1, "2:A", "1:A"))
	pos := newFakePositions()
	pos.set(2, 0, 1, 10)
	pos.set(3, 0, 1, 12) // most advanced of shard 0
	pos.set(4, 0, 1, 50) // Partial: not a candidate
	pos.set(2, 1, 3, 5)  // a newer term beats a higher seq
	pos.set(3, 1, 2, 99)
	pos.set(3, 2, 1, 7) // node 2 does not answer for shard 2
	e.controller(100, pos)

	e.revoke(leases[1])
	m := e.waitMap("c", "shards 0-2 failed over", func(m *shoalv1.ShardMap) bool {
		return m.Shards[0].Primary != 1 && m.Shards[1].Primary != 1 && m.Shards[2].Primary != 1
	})
	for _, want := range []struct {
		shard   uint32
		primary uint64
		term    uint64
	}{{0, 3, 2}, {1, 2, 4}, {2, 3, 2}, {3, 2, 1}} {
		sh := cluster.FindShard(m, want.shard)
		if sh.Primary != want.primary || sh.Term != want.term || replicaState(m, want.shard, 1) != stateDead {
			t.Fatalf("shard %d: want primary %d term %d and node 1's replica Dead: %s", want.shard, want.primary, want.term, describe(m))
		}
	}

	// Node 1 comes back: every shard has a live primary, so its replicas
	// become Partial (their primaries then recover them).
	e.register(1, nodeTypeNormal)
	m = e.waitMap("c", "node 1's replicas Partial", func(m *shoalv1.ShardMap) bool {
		for _, sh := range m.Shards {
			if replicaState(m, sh.Id, 1) != statePartial {
				return false
			}
		}
		return true
	})
	if m.Shards[0].Primary != 3 || m.Shards[0].Term != 2 {
		t.Fatalf("a returning old primary must not lead again: %s", describe(m))
	}
}

func TestListenerConversions(t *testing.T) {
	e := startEnv(t)
	e.register(1, nodeTypeNormal)
	e.register(2, nodeTypeNormal)
	listener := e.register(3, nodeTypeListener)
	e.collection("c",
		shard(0, 1, "1:A", "2:A", "3:A"),
		shard(1, 1, "3:A", "1:A", "2:A"),
		shard(2, 1, "3:A"),
		shard(3, 1, "1:A", "3:P"))
	pos := newFakePositions()
	pos.set(1, 1, 1, 5)
	pos.set(2, 1, 1, 7)
	e.controller(100, pos)

	m := e.waitMap("c", "node 3's replicas Listener", func(m *shoalv1.ShardMap) bool {
		return replicaState(m, 0, 3) == stateListener && replicaState(m, 1, 3) == stateListener && replicaState(m, 3, 3) == stateListener
	})
	if sh := m.Shards[1]; sh.Primary != 2 || sh.Term != 2 {
		t.Fatalf("shard 1's primary on the Listener must fail over to node 2 first: %s", describe(m))
	}
	if sh := m.Shards[2]; sh.Primary != 3 || sh.Term != 1 || replicaState(m, 2, 3) != stateActive {
		t.Fatalf("shard 2's only (Active, primary) replica must stay as it is: %s", describe(m))
	}

	// Node 3 restarts as a Normal node: its Listener replicas become
	// Partial, for their primaries to catch them up.
	e.revoke(listener)
	e.register(3, nodeTypeNormal)
	m = e.waitMap("c", "node 3's replicas Partial", func(m *shoalv1.ShardMap) bool {
		return replicaState(m, 0, 3) == statePartial && replicaState(m, 1, 3) == statePartial && replicaState(m, 3, 3) == statePartial
	})
	if replicaState(m, 2, 3) != stateActive || m.Shards[2].Primary != 3 {
		t.Fatalf("shard 2 must be untouched: %s", describe(m))
	}
}

func TestOnlyTheLeaderActs(t *testing.T) {
	e := startEnv(t)
	leases := map[uint64]clientv3.LeaseID{}
	for _, id := range []uint64{1, 2, 3} {
		leases[id] = e.register(id, nodeTypeNormal)
	}
	e.collection("c", shard(0, 1, "1:A", "2:A", "3:A"), shard(1, 1, "2:A", "3:A"))
	posA, posB := newFakePositions(), newFakePositions()
	for _, p := range []*fakePositions{posA, posB} {
		p.set(2, 0, 1, 1)
		p.set(3, 0, 1, 2)
		p.set(3, 1, 1, 2)
	}
	a := e.controller(100, posA)
	b := e.controller(200, posB)
	waitFor(t, "a leader", func() bool { return a.IsLeader() || b.IsLeader() })
	leader, follower, leaderPos, followerPos := a, b, posA, posB
	if b.IsLeader() {
		leader, follower, leaderPos, followerPos = b, a, posB, posA
	}
	if follower.IsLeader() {
		t.Fatal("both controllers lead")
	}

	e.revoke(leases[1])
	m := e.waitMap("c", "shard 0 failed over", func(m *shoalv1.ShardMap) bool { return m.Shards[0].Primary == 3 })
	if m.Shards[0].Term != 2 || leaderPos.Calls() == 0 || followerPos.Calls() != 0 {
		t.Fatalf("failover by the leader only: term %d, leader asked %d positions, follower %d", m.Shards[0].Term, leaderPos.Calls(), followerPos.Calls())
	}

	// The leader stops: the other controller takes over and acts.
	leader.Close()
	waitFor(t, "the follower leads", follower.IsLeader)
	e.revoke(leases[2])
	m = e.waitMap("c", "shard 1 failed over", func(m *shoalv1.ShardMap) bool { return m.Shards[1].Primary == 3 })
	if m.Shards[1].Term != 2 || followerPos.Calls() == 0 || replicaState(m, 0, 2) != stateDead {
		t.Fatalf("after the handover: %s; new leader asked %d positions", describe(m), followerPos.Calls())
	}
}
