package e2e

import (
	"fmt"
	"testing"

	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/tests/harness"
)

// replicaStates returns, per shard id, the states of its replicas by node
// id, and per shard the digest of each replica, from the digests endpoint.
func replicaStates(t *testing.T, c *harness.Cluster, collection string) (map[string]map[string]string, map[string]map[string]string) {
	t.Helper()
	states, digests := map[string]map[string]string{}, map[string]map[string]string{}
	for _, s := range list(t, obj(t, ok(t, c, "GET", "/debug/collections/"+collection+"/digests", nil))["shards"]) {
		shard := obj(t, s)
		id := fmt.Sprint(shard["shard_id"])
		states[id], digests[id] = map[string]string{}, map[string]string{}
		for _, rp := range list(t, shard["replicas"]) {
			rep := obj(t, rp)
			node := fmt.Sprint(uint64(num(t, rep["peer_id"])))
			states[id][node], _ = rep["state"].(string)
			digests[id][node], _ = rep["digest"].(string)
		}
	}
	return states, digests
}

// TestListenerNode: a storage node started with node_type Listener gets a
// Listener replica of every shard, receives every write (its digests equal
// the Active replicas') and never counts toward the write consistency
// factor; restarted as a Normal node its replicas become
// Active, and restarted as a Listener again they go back to Listener.
func TestListenerNode(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3, Configure: func(tier string, i int, cfg *config.Config) {
		if tier == "storage" && i == 2 {
			cfg.Storage.NodeType = "Listener"
		}
	}})
	listener := fmt.Sprint(c.Storage[2].NodeID())
	ok(t, c, "PUT", "/collections/l", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 2, "replication_factor": 2, "write_consistency_factor": 2,
	})
	ok(t, c, "PUT", "/collections/l/points?wait=true", map[string]any{"points": replicatedPoints(1, 60)})

	states, _ := replicaStates(t, c, "l")
	for shard, reps := range states {
		if len(reps) != 3 || reps[listener] != "Listener" {
			t.Fatalf("shard %s replicas %v: want 2 Active and a Listener on node %s", shard, reps, listener)
		}
	}
	// The listener holds every write.
	eventually(t, "listener replicas equal to the active ones", func() bool {
		_, digests := replicaStates(t, c, "l")
		for _, d := range digests {
			for _, v := range d {
				if v == "" || v != d[listener] {
					return false
				}
			}
		}
		return true
	})
	// It never counts: with one Active replica gone, factor 2 cannot be
	// met by the other Active replica and the listener.
	const normal = 0
	c.StopStorage(normal)
	eventually(t, "writes refused with one active replica and a listener", func() bool {
		r := c.Do("PUT", "/collections/l/points?wait=true&timeout=5", map[string]any{"points": replicatedPoints(61, 62)})
		if r.Status != 200 && r.Status != 503 {
			t.Fatalf("write: %d %s", r.Status, r.Raw)
		}
		return r.Status == 503
	})
	// Reads answer from the remaining Active replica of each shard (that
	// they never go to a Listener is checked by the routing unit tests).
	for i := 0; i < 4; i++ {
		if n := num(t, obj(t, ok(t, c, "POST", "/collections/l/points/count", map[string]any{"exact": true}))["count"]); n < 60 {
			t.Fatalf("count without one normal node: %v", n)
		}
	}
	c.StartStorage(normal)

	// Restarted as a Normal node: its replicas become Active.
	c.StopStorage(2)
	c.ConfigureStorage(2, func(cfg *config.Config) { cfg.Storage.NodeType = "Normal" })
	c.StartStorage(2)
	eventually(t, "former listener replicas active", func() bool {
		states, _ := replicaStates(t, c, "l")
		for _, reps := range states {
			for _, st := range reps {
				if st != "Active" {
					return false
				}
			}
		}
		return true
	})
	ok(t, c, "PUT", "/collections/l/points?wait=true", map[string]any{"points": replicatedPoints(61, 80)})
	waitDigests(t, c, "l", 3, 80)

	// And back to a Listener.
	c.StopStorage(2)
	c.ConfigureStorage(2, func(cfg *config.Config) { cfg.Storage.NodeType = "Listener" })
	c.StartStorage(2)
	eventually(t, "replicas on the listener node are listeners again", func() bool {
		states, _ := replicaStates(t, c, "l")
		for _, reps := range states {
			if reps[listener] != "Listener" {
				return false
			}
		}
		return true
	})
}
