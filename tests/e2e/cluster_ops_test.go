package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// shardReplicas returns shard 0's replicas of a collection (peer id →
// state) and its primary, from the debug digests.
func shardReplicas(t *testing.T, c *harness.Cluster, collection string) (map[uint64]string, uint64) {
	t.Helper()
	res := obj(t, ok(t, c, "GET", "/debug/collections/"+collection+"/digests", nil))
	out := map[uint64]string{}
	var primary uint64
	for _, s := range list(t, res["shards"]) {
		for _, rp := range list(t, obj(t, s)["replicas"]) {
			rep := obj(t, rp)
			id := uint64(num(t, rep["peer_id"]))
			out[id], _ = rep["state"].(string)
			if rep["primary"] == true {
				primary = id
			}
		}
	}
	return out, primary
}

// transfers returns the shard_transfers of GET /collections/{c}/cluster.
func transfers(t *testing.T, c *harness.Cluster, collection string) []any {
	t.Helper()
	return list(t, obj(t, ok(t, c, "GET", "/collections/"+collection+"/cluster", nil))["shard_transfers"])
}

// spareNodes returns the running storage nodes that hold no replica.
func spareNodes(t *testing.T, c *harness.Cluster, reps map[uint64]string) []uint64 {
	t.Helper()
	var out []uint64
	for _, s := range c.Storage {
		if s != nil && reps[s.NodeID()] == "" {
			out = append(out, s.NodeID())
		}
	}
	slices.Sort(out)
	return out
}

func countPoints(t *testing.T, c *harness.Cluster, collection string) int {
	t.Helper()
	return int(num(t, obj(t, ok(t, c, "POST", "/collections/"+collection+"/points/count", map[string]any{"exact": true}))["count"]))
}

// requireReadable fails unless every id is retrievable.
func requireReadable(t *testing.T, c *harness.Cluster, collection string, ids []int) {
	t.Helper()
	got := list(t, ok(t, c, "POST", "/collections/"+collection+"/points", map[string]any{"ids": ids}))
	if len(got) != len(ids) {
		t.Fatalf("%d of %d acknowledged points readable", len(got), len(ids))
	}
}

func clusterOp(op string, body map[string]any) map[string]any { return map[string]any{op: body} }

// TestClusterOpsReplicateMoveDrop replicates a shard to a spare node,
// moves its primary's replica to another while a writer keeps writing,
// drops replicas down to one and is refused dropping the last.
func TestClusterOpsReplicateMoveDrop(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 4})
	ok(t, c, "PUT", "/collections/ops", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 1, "replication_factor": 2,
	})
	var reps map[uint64]string
	var primary uint64
	eventually(t, "two Active replicas", func() bool {
		reps, primary = shardReplicas(t, c, "ops")
		return len(reps) == 2 && reps[primary] == "Active" && !slices.Contains(mapsValues(reps), "Initializing")
	})
	for from := 1; from <= 300; from += 100 {
		ok(t, c, "PUT", "/collections/ops/points?wait=true", map[string]any{"points": replicatedPoints(from, from+99)})
	}
	spare := spareNodes(t, c, reps)
	if len(spare) != 2 {
		t.Fatalf("spare nodes %v", spare)
	}
	var follower uint64
	for id := range reps {
		if id != primary {
			follower = id
		}
	}

	// Bad input.
	path := "/collections/ops/cluster"
	fails(t, c, "POST", path, clusterOp("replicate_shard", map[string]any{"shard_id": 7, "from_peer_id": primary, "to_peer_id": spare[0]}), http.StatusBadRequest, "Shard 7 does not exist")
	fails(t, c, "POST", path, clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": 999999}), http.StatusBadRequest, "Peer 999999 does not exist")
	fails(t, c, "POST", path, clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": spare[0], "to_peer_id": spare[1]}), http.StatusBadRequest, "is not on peer")
	fails(t, c, "POST", path, clusterOp("move_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": follower}), http.StatusBadRequest, "already on peer")
	fails(t, c, "POST", path, clusterOp("move_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": spare[0], "method": "carrier_pigeon"}), http.StatusBadRequest, "carrier_pigeon")
	fails(t, c, "POST", path, clusterOp("abort_transfer", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": spare[0]}), http.StatusNotFound, "does not exist")
	fails(t, c, "POST", path, clusterOp("drop_replica", map[string]any{"shard_id": 0, "peer_id": spare[0]}), http.StatusBadRequest, "is not on peer")
	fails(t, c, "POST", "/collections/nope/cluster", clusterOp("drop_replica", map[string]any{"shard_id": 0, "peer_id": primary}), http.StatusNotFound, "nope")

	// Replicate to the first spare node: its copy equals the others.
	ok(t, c, "POST", path, clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": spare[0], "method": "snapshot"}))
	waitDigests(t, c, "ops", 3, 300)
	eventually(t, "replication's transfer record gone", func() bool { return len(transfers(t, c, "ops")) == 0 })

	// Move the primary's replica to the second spare node while writing.
	stop := make(chan struct{})
	var mu sync.Mutex
	var acked []int
	var wg sync.WaitGroup
	wg.Go(func() {
		for id := 1001; ; id++ {
			select {
			case <-stop:
				return
			default:
			}
			r := c.Do("PUT", "/collections/ops/points?wait=true", map[string]any{"points": replicatedPoints(id, id)})
			if r.Status == http.StatusOK {
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}
	})
	source := primary
	if len(replicaFiles(t, c, source, "ops")) != 1 {
		t.Fatalf("the move's source holds no replica file")
	}
	ok(t, c, "POST", path, clusterOp("move_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": spare[1], "method": "stream_records"}))
	eventually(t, "the move is done", func() bool {
		reps, _ = shardReplicas(t, c, "ops")
		_, onSource := reps[primary]
		return !onSource && reps[spare[1]] == "Active" && len(reps) == 3 && len(transfers(t, c, "ops")) == 0
	})
	eventually(t, "writes acknowledged after the move", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) > 0 && acked[len(acked)-1] > 1005
	})
	close(stop)
	wg.Wait()
	requireReadable(t, c, "ops", acked)
	n := countPoints(t, c, "ops")
	if n < 300+len(acked) {
		t.Fatalf("count %d, want at least %d", n, 300+len(acked))
	}
	waitDigests(t, c, "ops", 3, n)
	reps, primary = shardReplicas(t, c, "ops")
	if _, held := reps[spare[1]]; !held {
		t.Fatalf("replicas after the move: %v", reps)
	}
	eventually(t, "the source node deleted its replica file", func() bool { return len(replicaFiles(t, c, source, "ops")) == 0 })
	if len(replicaFiles(t, c, spare[1], "ops")) != 1 {
		t.Fatalf("the move's target holds no replica file")
	}

	// Drop a follower, then the primary (handed over first), then the
	// last replica is refused.
	for id := range reps {
		if id != primary {
			follower = id
			break
		}
	}
	ok(t, c, "POST", path, clusterOp("drop_replica", map[string]any{"shard_id": 0, "peer_id": follower}))
	eventually(t, "follower dropped", func() bool { reps, _ = shardReplicas(t, c, "ops"); return len(reps) == 2 })
	ok(t, c, "POST", path, clusterOp("drop_replica", map[string]any{"shard_id": 0, "peer_id": primary}))
	var last uint64
	eventually(t, "primary handed over and dropped", func() bool {
		reps, last = shardReplicas(t, c, "ops")
		_, held := reps[primary]
		return len(reps) == 1 && !held && reps[last] == "Active"
	})
	fails(t, c, "POST", path, clusterOp("drop_replica", map[string]any{"shard_id": 0, "peer_id": last}), http.StatusBadRequest, "last replica")
	requireReadable(t, c, "ops", acked)
	if got := countPoints(t, c, "ops"); got != n {
		t.Fatalf("count after drops %d, want %d", got, n)
	}
}

// TestClusterOpsAbortTransfer starts a replication whose source is down
// (so it cannot finish), sees it listed, aborts it, and finds the target
// replica gone and the data intact once the source is back.
func TestClusterOpsAbortTransfer(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 4})
	ok(t, c, "PUT", "/collections/ab", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 1, "replication_factor": 1,
	})
	var reps map[uint64]string
	var primary uint64
	eventually(t, "one Active replica", func() bool {
		reps, primary = shardReplicas(t, c, "ab")
		return reps[primary] == "Active"
	})
	ok(t, c, "PUT", "/collections/ab/points?wait=true", map[string]any{"points": replicatedPoints(1, 50)})
	target := spareNodes(t, c, reps)[0]
	src := storageIndex(t, c, primary)
	c.StopStorage(src)

	path := "/collections/ab/cluster"
	ok(t, c, "POST", path, clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": target, "method": "wal_delta"}))
	tr := transfers(t, c, "ab")
	if len(tr) != 1 {
		t.Fatalf("shard_transfers %v", tr)
	}
	got := obj(t, tr[0])
	want := map[string]any{"shard_id": 0.0, "from": float64(primary), "to": float64(target), "sync": true, "method": "wal_delta"}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("shard_transfers[0].%s = %v, want %v (%v)", k, got[k], v, got)
		}
	}
	if _, isText := got["comment"].(string); !isText {
		t.Fatalf("transfer without comment: %v", got)
	}
	fails(t, c, "POST", path, clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": target}), http.StatusBadRequest, "already on peer")

	ok(t, c, "POST", path, clusterOp("abort_transfer", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": target}))
	if tr := transfers(t, c, "ab"); len(tr) != 0 {
		t.Fatalf("shard_transfers after abort: %v", tr)
	}
	info := obj(t, ok(t, c, "GET", "/collections/ab/cluster", nil))
	for _, r := range list(t, info["remote_shards"]) {
		if uint64(num(t, obj(t, r)["peer_id"])) == target {
			t.Fatalf("aborted target still holds a replica: %v", info)
		}
	}
	fails(t, c, "POST", path, clusterOp("abort_transfer", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": target}), http.StatusNotFound, "does not exist")

	c.StartStorage(src)
	eventually(t, "points readable again", func() bool {
		r := c.Do("POST", "/collections/ab/points/count", map[string]any{"exact": true})
		return r.Status == http.StatusOK && fmt.Sprint(obj(t, r.Result())["count"]) == "50"
	})
	waitDigests(t, c, "ab", 1, 50)
}

// replicaFiles lists the replica files of a collection's shard 0 on a
// storage node.
func replicaFiles(t *testing.T, c *harness.Cluster, node uint64, collection string) []string {
	t.Helper()
	root := c.StorageConfig(storageIndex(t, c, node)).Storage.StoragePath
	files, err := filepath.Glob(filepath.Join(root, "collections", collection, "*", "shard-0.db"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func mapsValues(m map[uint64]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
