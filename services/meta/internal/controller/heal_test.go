package controller

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// testFleet builds one collection "c" (uid "u", replication factor rf)
// from shards.
func testFleet(rf uint32, shards ...*shoalv1.Shard) *fleet {
	coll := &shoalv1.Collection{Name: "c", Uid: "u", Config: &shoalv1.CollectionConfig{ReplicationFactor: rf}}
	return &fleet{colls: []*shoalv1.Collection{coll}, maps: map[string]*shoalv1.ShardMap{"c": {Collection: "c", Uid: "u", Shards: shards}}}
}

// describeSteps renders steps as "kind shard from->to -drop".
func describeSteps(steps []step) string {
	var out []string
	for _, s := range steps {
		kind := strings.TrimPrefix(s.kind.String(), "SHARD_TRANSFER_KIND_")
		if s.to == 0 {
			kind = "DROP"
		}
		d := fmt.Sprintf("%s %d %d->%d", kind, s.shard, s.from, s.to)
		if s.drop != 0 {
			d += fmt.Sprintf(" -%d", s.drop)
		}
		out = append(out, d)
	}
	return strings.Join(out, "; ")
}

// counts applies planned steps to per-node replica counts.
func applied(f *fleet, v nodeView, steps []step) map[uint64]int {
	count := replicaCounts(f, v, nil)
	for _, s := range steps {
		if s.to != 0 {
			count[s.to]++
		}
		if s.kind == kindMove {
			count[s.from]--
		}
	}
	return count
}

func TestPlanRebalance(t *testing.T) {
	f := func(name string, limits cluster.TransferLimits, v nodeView, fl *fleet, records []record, want string) {
		t.Helper()
		load := cluster.NewTransferLoad(limits, fl.mapList(), recordList(records))
		p := newPlanner(fl, v, records, load)
		p.planRebalance()
		if got := describeSteps(p.steps); got != want {
			t.Errorf("%s: steps %q, want %q", name, got, want)
		}
	}
	one := cluster.TransferLimits{Incoming: 1, Outgoing: 1}
	// Three nodes hold 2 shards × rf 3, node 4 joins: 2 replicas each on
	// nodes 1-3, none on node 4. One move (a non-primary replica, from
	// the lowest id among the fullest) makes it 1,2,2,1: even ±1.
	three := testFleet(3, shard(0, 1, "1:A", "2:A", "3:A"), shard(1, 1, "2:A", "3:A", "1:A"))
	f("one at a time", one, view(true, []uint64{1, 2, 3, 4}), three, nil, "MOVE 1 1->4")
	// Without limits the result is the same: the plan stops at ±1.
	f("unlimited", cluster.TransferLimits{}, view(true, []uint64{1, 2, 3, 4}), three, nil, "MOVE 1 1->4")
	// A listener node is never a target, nor is a draining one.
	f("listener excluded", cluster.TransferLimits{}, view(true, []uint64{1, 2, 3}, 4), three, nil, "")
	drainView := newNodeViewMarked(view(true, []uint64{1, 2, 3, 4}).list(), true, map[uint64]*shoalv1.PeerMark{4: {Draining: true}}, nil)
	f("draining excluded", cluster.TransferLimits{}, drainView, three, nil, "")
	// Balanced ±1 already: nothing.
	f("balanced", cluster.TransferLimits{}, view(true, []uint64{1, 2, 3}), testFleet(2, shard(0, 1, "1:A", "2:A"), shard(1, 1, "3:A", "1:A")), nil, "")
	// A shard with a non-Active replica, or in a transfer, stays put.
	f("unhealthy shard", cluster.TransferLimits{}, view(true, []uint64{1, 2}), testFleet(1, shard(0, 1, "1:A", "3:P"), shard(1, 1, "1:A")), nil, "MOVE 1 1->2")
	busy := []record{{key: "k", t: &shoalv1.ShardTransfer{Uid: "u", ShardId: 1, FromNode: 1, ToNode: 9, Kind: kindReplicate, Queued: true}}}
	f("busy shard", cluster.TransferLimits{}, view(true, []uint64{1, 2}), testFleet(1, shard(0, 1, "1:A"), shard(1, 1, "1:A"), shard(2, 1, "1:A")), busy, "MOVE 0 1->2")
	// Only a primary can move: it does (its move hands over first).
	f("primary moves", cluster.TransferLimits{}, view(true, []uint64{1, 2}), testFleet(1, shard(0, 1, "1:A"), shard(1, 1, "1:A")), nil, "MOVE 0 1->2")
	// A move in flight already counts: node 1's count is projected.
	inflight := []record{{key: "k", t: &shoalv1.ShardTransfer{Uid: "u", ShardId: 0, FromNode: 1, ToNode: 2, Kind: kindMove}}}
	f("move in flight", cluster.TransferLimits{}, view(true, []uint64{1, 2}), testFleet(1, shard(0, 1, "1:A", "2:P"), shard(1, 1, "1:A"), shard(2, 1, "1:A")), inflight, "")
}

func TestPlanRebalanceConverges(t *testing.T) {
	// 2 collections-worth of shards (6 × rf 2) on 3 nodes, a 4th joins;
	// planning again on the result until nothing is left ends even ±1.
	var shards []*shoalv1.Shard
	for i := uint32(0); i < 6; i++ {
		a, b := uint64(i%3+1), uint64((i+1)%3+1)
		shards = append(shards, shard(i, 1, fmt.Sprintf("%d:A", a), fmt.Sprintf("%d:A", b)))
	}
	fl := testFleet(2, shards...)
	v := view(true, []uint64{1, 2, 3, 4})
	for round := 0; round < 20; round++ {
		p := newPlanner(fl, v, nil, cluster.NewTransferLoad(cluster.TransferLimits{Incoming: 1, Outgoing: 1}, fl.mapList(), nil))
		p.planRebalance()
		if len(p.steps) == 0 {
			break
		}
		if len(p.steps) > 1 {
			t.Fatalf("round %d: %d moves into one node at once: %s", round, len(p.steps), describeSteps(p.steps))
		}
		for _, s := range p.steps {
			sh := cluster.FindShard(fl.maps["c"], s.shard)
			cluster.RemoveReplica(sh, s.from)
			sh.Replicas = append(sh.Replicas, &shoalv1.Replica{NodeId: s.to, State: stateActive})
			if sh.Primary == s.from {
				sh.Primary = s.to
			}
		}
	}
	count := applied(fl, v, nil)
	var vals []int
	for _, n := range count {
		vals = append(vals, n)
	}
	sort.Ints(vals)
	if vals[len(vals)-1]-vals[0] > 1 || len(vals) != 4 {
		t.Fatalf("counts after rebalance %v, want even ±1 over 4 nodes", count)
	}
	for _, sh := range fl.maps["c"].Shards {
		if len(sh.Replicas) != 2 || sh.Replicas[0].NodeId == sh.Replicas[1].NodeId {
			t.Fatalf("shard %d lost its replication: %s", sh.Id, states(sh))
		}
	}
}

func TestPlanLostAndDrain(t *testing.T) {
	f := func(name string, v nodeView, fl *fleet, drain bool, want string) {
		t.Helper()
		p := newPlanner(fl, v, nil, cluster.NewTransferLoad(cluster.TransferLimits{Incoming: 1, Outgoing: 1}, fl.mapList(), nil))
		p.planLost()
		if drain {
			p.planDrain()
		}
		if got := describeSteps(p.steps); got != want {
			t.Errorf("%s: steps %q, want %q", name, got, want)
		}
	}
	nodes := view(true, []uint64{1, 2, 3, 4}, 5).list()
	lost3 := newNodeViewMarked(nodes, true, nil, map[uint64]bool{3: true})
	// Node 3 lost: its replica is re-created from the primary on the
	// least loaded node not holding the shard, dropped in the same write.
	f("lost replaced", lost3, testFleet(2, shard(0, 1, "1:A", "3:D"), shard(1, 1, "2:A", "1:A")), false, "REPLICATE 0 1->4 -3")
	// Above the factor without it: only dropped. Listener replicas too.
	f("lost surplus dropped", lost3, testFleet(2, shard(0, 1, "1:A", "2:A", "3:D")), false, "DROP 0 0->0 -3")
	// A lost primary waits for its failover.
	f("lost primary waits", lost3, testFleet(2, shard(0, 1, "3:A", "1:A")), false, "")
	removed := newNodeViewMarked(nodes, true, map[uint64]*shoalv1.PeerMark{2: {Removed: true}}, nil)
	f("removed node", removed, testFleet(2, shard(0, 1, "1:A", "2:A")), false, "REPLICATE 0 1->3 -2")
	// No target: nothing (the listener node 5 never counts).
	small := newNodeViewMarked(view(true, []uint64{1, 2}, 5).list(), true, nil, map[uint64]bool{2: true})
	f("no target", small, testFleet(2, shard(0, 1, "1:A", "2:D")), false, "")

	draining := newNodeViewMarked(nodes, true, map[uint64]*shoalv1.PeerMark{1: {Draining: true}}, nil)
	// Draining node 1: its Active replicas move (primary included: the
	// move hands over first), one per target within the limits.
	f("drain", draining, testFleet(2, shard(0, 1, "2:A", "1:A"), shard(1, 1, "1:A", "3:A")), true, "MOVE 0 1->4")
	// A Dead replica on a draining node is replaced, not moved.
	f("drain dead", draining, testFleet(2, shard(0, 1, "2:A", "1:D")), true, "REPLICATE 0 2->3 -1")
	// Both: lost first, then the drain, within the same limits (node 4
	// takes one transfer; the drain uses node 3).
	both := newNodeViewMarked(nodes, true, map[uint64]*shoalv1.PeerMark{1: {Draining: true}}, map[uint64]bool{2: true})
	f("lost and drain", both, testFleet(2, shard(0, 1, "3:A", "2:D"), shard(1, 1, "4:A", "1:A")), true, "REPLICATE 0 3->4 -2; MOVE 1 1->3")
}

// list returns the view's registered nodes.
func (v nodeView) list() []*shoalv1.Node {
	var out []*shoalv1.Node
	for _, n := range v.nodes {
		out = append(out, n)
	}
	return out
}
