package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// placement counts, over collections, the replicas each storage node
// holds (peer id → count) and reports whether every replica is Active.
func placement(t *testing.T, c *harness.Cluster, collections ...string) (map[uint64]int, bool) {
	t.Helper()
	count, allActive := map[uint64]int{}, true
	for _, coll := range collections {
		for _, s := range list(t, obj(t, ok(t, c, "GET", "/debug/collections/"+coll+"/digests", nil))["shards"]) {
			for _, rp := range list(t, obj(t, s)["replicas"]) {
				rep := obj(t, rp)
				count[uint64(num(t, rep["peer_id"]))]++
				if rep["state"] != "Active" {
					allActive = false
				}
			}
		}
	}
	return count, allActive
}

// even reports whether the nodes' counts differ by at most one, every
// node in nodes counted.
func even(count map[uint64]int, nodes []uint64) bool {
	var vals []int
	for _, id := range nodes {
		vals = append(vals, count[id])
	}
	sort.Ints(vals)
	return len(vals) > 0 && vals[len(vals)-1]-vals[0] <= 1
}

// load keeps writing and searching the collections until stopped: every
// acknowledged write is remembered, every failure too.
type load struct {
	c       *harness.Cluster
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	acked   map[string][]int
	failed  []string
	writes  int
	queries int
}

func startLoad(c *harness.Cluster, collections ...string) *load {
	l := &load{c: c, stop: make(chan struct{}), acked: map[string][]int{}}
	for i, coll := range collections {
		l.wg.Go(func() {
			for id := 100_000 * (i + 1); ; id += 2 {
				select {
				case <-l.stop:
					return
				default:
				}
				r := c.Do("PUT", "/collections/"+coll+"/points?wait=true", map[string]any{"points": replicatedPoints(id, id+1)})
				l.mu.Lock()
				l.writes++
				if r.Status == http.StatusOK {
					l.acked[coll] = append(l.acked[coll], id, id+1)
				} else {
					l.failed = append(l.failed, fmt.Sprintf("write %s %d: %d %s", coll, id, r.Status, r.Raw))
				}
				l.mu.Unlock()
			}
		})
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				r := c.Do("POST", "/collections/"+coll+"/points/search", map[string]any{"vector": []float64{1, 1, 1, 1}, "limit": 5})
				l.mu.Lock()
				l.queries++
				if r.Status != http.StatusOK {
					l.failed = append(l.failed, fmt.Sprintf("search %s: %d %s", coll, r.Status, r.Raw))
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// finish stops the load and fails the test on any failed request.
func (l *load) finish(t *testing.T) map[string][]int {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("load: %d writes, %d searches, %d failed", l.writes, l.queries, len(l.failed))
	if len(l.failed) > 0 {
		t.Fatalf("%d requests failed during the cluster change, first: %s", len(l.failed), l.failed[0])
	}
	return l.acked
}

// TestRebalanceDrainRemove: a 4th storage node joins a 3-node cluster
// holding 2 collections (3 shards × rf 2) while writers and searchers
// run; the controller spreads replicas to it without any call until the
// counts are even ±1. Then a node is drained and removed: nothing is
// lost and every shard's replicas agree.
func TestRebalanceDrainRemove(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 4})
	c.StopStorage(3) // joins later
	colls := []string{"reb_a", "reb_b"}
	for _, coll := range colls {
		ok(t, c, "PUT", "/collections/"+coll, map[string]any{
			"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 3, "replication_factor": 2,
		})
		ok(t, c, "PUT", "/collections/"+coll+"/points?wait=true", map[string]any{"points": replicatedPoints(1, 200)})
	}
	var first []uint64
	for _, s := range c.Storage[:3] {
		first = append(first, s.NodeID())
	}
	eventually(t, "collections placed on the first 3 nodes", func() bool {
		count, active := placement(t, c, colls...)
		return active && len(count) == 3 && even(count, first)
	})

	l := startLoad(c, colls...)
	c.StartStorage(3)
	all := append(append([]uint64(nil), first...), c.Storage[3].NodeID())
	var count map[uint64]int
	eventually(t, "replicas spread to the new node", func() bool {
		var active bool
		count, active = placement(t, c, colls...)
		return active && count[all[3]] > 0 && even(count, all) && len(transfers(t, c, colls[0]))+len(transfers(t, c, colls[1])) == 0
	})
	t.Logf("after the join: %v", count)

	// Removing a node that holds replicas is refused; drain it first.
	victim := all[0]
	peer := fmt.Sprintf("/cluster/peer/%d", victim)
	fails(t, c, "DELETE", peer, nil, http.StatusBadRequest, fmt.Sprintf("Cannot remove peer %d as there are shards on it", victim))
	fails(t, c, "DELETE", "/cluster/peer/12345", nil, http.StatusNotFound, "12345")
	if r := ok(t, c, "POST", peer+"/drain", nil); r != true {
		t.Fatalf("drain answered %v", r)
	}
	eventually(t, "the drained node emptied", func() bool {
		var active bool
		count, active = placement(t, c, colls...)
		return active && count[victim] == 0 && even(count, all[1:]) && len(transfers(t, c, colls[0]))+len(transfers(t, c, colls[1])) == 0
	})
	t.Logf("after the drain: %v", count)
	if r := ok(t, c, "DELETE", peer, nil); r != true {
		t.Fatalf("remove_peer answered %v", r)
	}
	c.StopStorage(0)
	acked := l.finish(t)

	for _, coll := range colls {
		ids := append([]int(nil), acked[coll]...)
		for i := 1; i <= 200; i++ {
			ids = append(ids, i)
		}
		requireReadable(t, c, coll, ids)
		waitDigests(t, c, coll, 2, len(ids))
	}
	// The removed node stays out when it returns: a collection created
	// while it is registered again gets no replica on it.
	c.StartStorage(0)
	eventually(t, "the removed node registered again", func() bool {
		_, known := obj(t, obj(t, ok(t, c, "GET", "/cluster", nil))["peers"])[fmt.Sprint(victim)]
		return known
	})
	ok(t, c, "PUT", "/collections/reb_c", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 4, "replication_factor": 1,
	})
	count, _ = placement(t, c, append(colls, "reb_c")...)
	if count[victim] != 0 || len(count) != 3 {
		t.Fatalf("the removed node got replicas: %v", count)
	}
}

// TestRemovePeerForce: a storage node holding replicas dies and is
// removed with force; the controller re-creates its replicas on the
// other nodes from the shards' primaries, and nothing acknowledged is
// lost.
func TestRemovePeerForce(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 4})
	ok(t, c, "PUT", "/collections/force", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 4, "replication_factor": 2,
	})
	ok(t, c, "PUT", "/collections/force/points?wait=true", map[string]any{"points": replicatedPoints(1, 300)})
	waitDigests(t, c, "force", 2, 300)
	victim := c.Storage[1].NodeID()
	count, _ := placement(t, c, "force")
	if count[victim] == 0 {
		t.Fatalf("node %d holds nothing: %v", victim, count)
	}
	c.StopStorage(1)
	peer := fmt.Sprintf("/cluster/peer/%d", victim)
	fails(t, c, "DELETE", peer, nil, http.StatusBadRequest, "there are shards on it")
	if r := ok(t, c, "DELETE", peer+"?force=true&timeout=10", nil); r != true {
		t.Fatalf("forced remove_peer answered %v", r)
	}
	ok(t, c, "PUT", "/collections/force/points?wait=true", map[string]any{"points": replicatedPoints(301, 400)})
	eventually(t, "lost replicas re-created elsewhere", func() bool {
		count, active := placement(t, c, "force")
		return active && count[victim] == 0 && len(transfers(t, c, "force")) == 0
	})
	requireReadable(t, c, "force", []int{1, 150, 300, 301, 400})
	waitDigests(t, c, "force", 2, 400)
}
