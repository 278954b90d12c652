package catalog

import (
	"sort"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// replicaLoad counts the replicas each node holds across shard maps, in
// every state: a Dead or Initializing replica still takes the node's disk
// and will be recovered there.
func replicaLoad(maps []*shoalv1.ShardMap) map[uint64]int {
	load := map[uint64]int{}
	for _, m := range maps {
		for _, sh := range m.Shards {
			for _, r := range sh.Replicas {
				load[r.NodeId]++
			}
		}
	}
	return load
}

// placeable leaves out the nodes an administrator drains or removed:
// they get no new replica.
func placeable(nodes []*shoalv1.Node, marks map[uint64]*shoalv1.PeerMark) []*shoalv1.Node {
	out := nodes[:0:0]
	for _, n := range nodes {
		if m := marks[n.GetId()]; m != nil && (m.GetDraining() || m.GetRemoved()) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// placementNodes returns the ids of the registered storage nodes that hold
// counted replicas (node type Normal), ascending. Listener nodes only ever
// receive extra replicas, never ones that count toward the replication
// factor, so creation does not place on them.
func placementNodes(nodes []*shoalv1.Node) []uint64 {
	var ids []uint64
	for _, n := range nodes {
		if n.Tier == shoalv1.NodeTier_NODE_TIER_STORAGE && n.NodeType == shoalv1.NodeType_NODE_TYPE_NORMAL {
			ids = append(ids, n.Id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// listenerNodes returns the ids of the registered storage nodes of type
// Listener, ascending.
func listenerNodes(nodes []*shoalv1.Node) []uint64 {
	var ids []uint64
	for _, n := range nodes {
		if n.Tier == shoalv1.NodeTier_NODE_TIER_STORAGE && n.NodeType == shoalv1.NodeType_NODE_TYPE_LISTENER {
			ids = append(ids, n.Id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// addListeners gives every shard one extra replica on each Listener node,
// after its counted replicas. Listener replicas start in state Listener:
// they are never primary, never count toward the replication factor or
// the write consistency factor, and activation does not wait for them.
func addListeners(shards []*shoalv1.Shard, listeners []uint64) {
	for _, sh := range shards {
		for _, node := range listeners {
			if cluster.FindReplica(sh, node) != nil {
				continue
			}
			sh.Replicas = append(sh.Replicas, &shoalv1.Replica{NodeId: node, State: shoalv1.ReplicaState_REPLICA_STATE_LISTENER})
		}
	}
}

// place lays out shardNumber shards with perShard replicas each on
// distinct nodes. For every shard in turn it takes the perShard least
// loaded nodes, where load starts from the given counts (replicas of
// existing collections) and grows with this placement; ties go to the
// lower node id. This spreads replicas, and therefore primaries (the
// first, least loaded replica of each shard), evenly. perShard must not
// exceed len(nodes). load is updated in place.
//
// Every replica starts Initializing; the primary is the first replica and
// the term is 1.
func place(shardNumber, perShard uint32, nodes []uint64, load map[uint64]int) []*shoalv1.Shard {
	return placeFrom(0, shardNumber, perShard, nodes, load)
}

// placeFrom is place with shard ids first, first+1, … (the shards of a
// new shard key follow the collection's existing ones).
func placeFrom(first, shardNumber, perShard uint32, nodes []uint64, load map[uint64]int) []*shoalv1.Shard {
	candidates := append([]uint64(nil), nodes...)
	shards := make([]*shoalv1.Shard, 0, shardNumber)
	for id := first; id < first+shardNumber; id++ {
		sort.SliceStable(candidates, func(i, j int) bool {
			a, b := candidates[i], candidates[j]
			if load[a] != load[b] {
				return load[a] < load[b]
			}
			return a < b
		})
		sh := &shoalv1.Shard{Id: id, Term: 1}
		for _, node := range candidates[:perShard] {
			sh.Replicas = append(sh.Replicas, &shoalv1.Replica{NodeId: node, State: shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING})
			load[node]++
		}
		sh.Primary = sh.Replicas[0].NodeId
		shards = append(shards, sh)
	}
	return shards
}
