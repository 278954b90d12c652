package catalog

import (
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func TestPlaceEvenly(t *testing.T) {
	f := func(shards, perShard uint32, nodes []uint64, initial map[uint64]int, wantLoad map[uint64]int, wantPrimaries map[uint64]int) {
		t.Helper()
		load := map[uint64]int{}
		for k, v := range initial {
			load[k] = v
		}
		got := place(shards, perShard, nodes, load)
		if len(got) != int(shards) {
			t.Fatalf("place(%d, %d, %v) gave %d shards", shards, perShard, nodes, len(got))
		}
		count, primaries := map[uint64]int{}, map[uint64]int{}
		for i, sh := range got {
			if sh.Id != uint32(i) || sh.Term != 1 || len(sh.Replicas) != int(perShard) {
				t.Fatalf("shard %d = %v: want id %d, term 1, %d replicas", i, sh, i, perShard)
			}
			if sh.Primary != sh.Replicas[0].NodeId {
				t.Errorf("shard %d: primary %d is not the first replica %d", i, sh.Primary, sh.Replicas[0].NodeId)
			}
			primaries[sh.Primary]++
			seen := map[uint64]bool{}
			for _, r := range sh.Replicas {
				if seen[r.NodeId] {
					t.Errorf("shard %d has two replicas on node %d", i, r.NodeId)
				}
				seen[r.NodeId] = true
				if r.State != shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING {
					t.Errorf("shard %d replica on %d starts %v, want Initializing", i, r.NodeId, r.State)
				}
				count[r.NodeId]++
			}
		}
		for n, want := range wantLoad {
			if count[n] != want {
				t.Errorf("place(%d×%d on %v, load %v): node %d got %d replicas, want %d (all: %v)", shards, perShard, nodes, initial, n, count[n], want, count)
			}
			if load[n] != initial[n]+count[n] {
				t.Errorf("load of node %d = %d, want %d+%d", n, load[n], initial[n], count[n])
			}
		}
		for n, want := range wantPrimaries {
			if primaries[n] != want {
				t.Errorf("place(%d×%d on %v): node %d is primary of %d shards, want %d", shards, perShard, nodes, n, primaries[n], want)
			}
		}
	}
	three := []uint64{10, 20, 30}
	f(6, 2, three, nil, map[uint64]int{10: 4, 20: 4, 30: 4}, map[uint64]int{10: 2, 20: 2, 30: 2})
	f(3, 1, three, nil, map[uint64]int{10: 1, 20: 1, 30: 1}, map[uint64]int{10: 1, 20: 1, 30: 1})
	f(3, 3, three, nil, map[uint64]int{10: 3, 20: 3, 30: 3}, nil)
	f(1, 1, three, nil, map[uint64]int{10: 1, 20: 0, 30: 0}, nil) // ties go to the lowest id
	f(4, 1, []uint64{7}, nil, map[uint64]int{7: 4}, map[uint64]int{7: 4})
	// Existing load is evened out first: node 30 is empty.
	f(2, 1, three, map[uint64]int{10: 2, 20: 2}, map[uint64]int{10: 0, 20: 0, 30: 2}, nil)
	f(5, 2, three, map[uint64]int{10: 1}, map[uint64]int{10: 3, 20: 4, 30: 3}, nil)
	// Node order in the input does not matter.
	f(6, 2, []uint64{30, 10, 20}, nil, map[uint64]int{10: 4, 20: 4, 30: 4}, map[uint64]int{10: 2, 20: 2, 30: 2})
}

func TestPlacementNodes(t *testing.T) {
	nodes := []*shoalv1.Node{
		{Id: 5, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE},
		{Id: 2, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE},
		{Id: 3, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE, NodeType: shoalv1.NodeType_NODE_TYPE_LISTENER},
		{Id: 4, Tier: shoalv1.NodeTier_NODE_TIER_META},
		{Id: 1, Tier: shoalv1.NodeTier_NODE_TIER_ROUTER},
	}
	got := placementNodes(nodes)
	if len(got) != 2 || got[0] != 2 || got[1] != 5 {
		t.Fatalf("placementNodes = %v, want [2 5] (Normal storage nodes only, ascending)", got)
	}
}

func TestReplicaLoad(t *testing.T) {
	maps := []*shoalv1.ShardMap{
		{Shards: []*shoalv1.Shard{{Replicas: []*shoalv1.Replica{{NodeId: 1}, {NodeId: 2}}}, {Replicas: []*shoalv1.Replica{{NodeId: 1, State: shoalv1.ReplicaState_REPLICA_STATE_DEAD}}}}},
		{Shards: []*shoalv1.Shard{{Replicas: []*shoalv1.Replica{{NodeId: 3}}}}},
	}
	got := replicaLoad(maps)
	if got[1] != 2 || got[2] != 1 || got[3] != 1 || len(got) != 3 {
		t.Fatalf("replicaLoad = %v, want map[1:2 2:1 3:1]", got)
	}
}

func TestListenerPlacement(t *testing.T) {
	nodes := []*shoalv1.Node{
		{Id: 8, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE, NodeType: shoalv1.NodeType_NODE_TYPE_LISTENER},
		{Id: 2, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE},
		{Id: 3, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE, NodeType: shoalv1.NodeType_NODE_TYPE_LISTENER},
		{Id: 4, Tier: shoalv1.NodeTier_NODE_TIER_META, NodeType: shoalv1.NodeType_NODE_TYPE_LISTENER},
	}
	listeners := listenerNodes(nodes)
	if len(listeners) != 2 || listeners[0] != 3 || listeners[1] != 8 {
		t.Fatalf("listenerNodes = %v, want [3 8] (Listener storage nodes only, ascending)", listeners)
	}
	shards := place(3, 1, placementNodes(nodes), map[uint64]int{})
	addListeners(shards, listeners)
	for _, sh := range shards {
		if len(sh.Replicas) != 3 || sh.Primary != 2 || sh.Replicas[0].NodeId != 2 ||
			sh.Replicas[0].State != shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING {
			t.Fatalf("shard %v: want the counted replica (primary, Initializing) on node 2 first, then two Listener replicas", sh)
		}
		for i, want := range []uint64{3, 8} {
			r := sh.Replicas[i+1]
			if r.NodeId != want || r.State != shoalv1.ReplicaState_REPLICA_STATE_LISTENER {
				t.Fatalf("shard %d replica %d = %v, want node %d in state Listener", sh.Id, i+1, r, want)
			}
		}
	}
	// A node already holding a replica of the shard gets no second one.
	sh := &shoalv1.Shard{Replicas: []*shoalv1.Replica{{NodeId: 3, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE}}, Primary: 3}
	addListeners([]*shoalv1.Shard{sh}, listeners)
	if len(sh.Replicas) != 2 || sh.Replicas[0].State != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE || sh.Replicas[1].NodeId != 8 {
		t.Fatalf("addListeners on a shard already on node 3 = %v, want one new replica on 8 only", sh.Replicas)
	}
}
