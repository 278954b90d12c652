package e2e

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/tests/harness"
)

// startWriter upserts one point at a time (ids from on) with wait=true
// until the returned func is called; that returns the acknowledged ids.
func startWriter(c *harness.Cluster, collection string, from int) func() []int {
	stop := make(chan struct{})
	var (
		mu    sync.Mutex
		acked []int
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for id := from; ; id++ {
			select {
			case <-stop:
				return
			default:
			}
			r := c.Do("PUT", "/collections/"+collection+"/points?wait=true", map[string]any{"points": replicatedPoints(id, id)})
			if r.Status == http.StatusOK {
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}
	})
	return func() []int {
		close(stop)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return acked
	}
}

// copyMethod returns the method of the newest finished recovery of node
// to that node from ran as a primary ("" if none).
func copyMethod(t *testing.T, c *harness.Cluster, from, to uint64) (string, int64) {
	cs := c.Storage[storageIndex(t, c, from)].Copies()
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].To == to && cs[i].Err == nil {
			return cs[i].Method, cs[i].Records
		}
	}
	return "", 0
}

// TestTransferMethods drives each transfer method through the cluster
// operations API on a shard of 50 000 points while a writer keeps
// writing: replicate_shard by snapshot, move_shard by stream_records,
// and the wal_delta recovery of a follower that was down. Afterwards
// every replica has the same digest and every acknowledged write is
// there; the primary's record of each recovery names the method used.
func TestTransferMethods(t *testing.T) {
	const points = 50_000
	c := harness.Start(t, harness.Options{StorageNodes: 4})
	ok(t, c, "PUT", "/collections/xfer", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 1, "replication_factor": 2,
	})
	var reps map[uint64]string
	var primary uint64
	eventually(t, "two Active replicas", func() bool {
		reps, primary = shardReplicas(t, c, "xfer")
		return len(reps) == 2 && reps[primary] == "Active" && !slices.Contains(mapsValues(reps), "Initializing")
	})
	for from := 1; from <= points; from += 1000 {
		ok(t, c, "PUT", "/collections/xfer/points?wait=true", map[string]any{"points": replicatedPoints(from, from+999)})
	}
	spare := spareNodes(t, c, reps)
	path := "/collections/xfer/cluster"

	// replicate_shard by snapshot, with a writer running.
	stop := startWriter(c, "xfer", 100_001)
	ok(t, c, "POST", path, clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": spare[0], "method": "snapshot"}))
	eventually(t, "replication by snapshot done", func() bool {
		reps, _ = shardReplicas(t, c, "xfer")
		return reps[spare[0]] == "Active" && len(transfers(t, c, "xfer")) == 0
	})
	acked := stop()
	if m, _ := copyMethod(t, c, primary, spare[0]); m != "snapshot" {
		t.Fatalf("replication to node %d used %q, want snapshot", spare[0], m)
	}
	requireReadable(t, c, "xfer", acked)
	n := countPoints(t, c, "xfer")
	waitDigests(t, c, "xfer", 3, n)

	// move_shard of a follower's replica by stream_records.
	var follower uint64
	for id := range reps {
		if id != primary && id != spare[0] {
			follower = id
		}
	}
	stop = startWriter(c, "xfer", 200_001)
	ok(t, c, "POST", path, clusterOp("move_shard", map[string]any{"shard_id": 0, "from_peer_id": follower, "to_peer_id": spare[1], "method": "stream_records"}))
	eventually(t, "move by stream_records done", func() bool {
		reps, _ = shardReplicas(t, c, "xfer")
		_, onSource := reps[follower]
		return !onSource && reps[spare[1]] == "Active" && len(transfers(t, c, "xfer")) == 0
	})
	acked = append(acked, stop()...)
	if m, _ := copyMethod(t, c, primary, spare[1]); m != "stream_records" {
		t.Fatalf("move to node %d used %q, want stream_records", spare[1], m)
	}
	requireReadable(t, c, "xfer", acked)
	n = countPoints(t, c, "xfer")
	waitDigests(t, c, "xfer", 3, n)

	// A follower misses 1 % of the points while down: it is recovered by
	// wal_delta, which sends no more than what it missed (plus what the
	// writer adds meanwhile).
	down := spare[0]
	c.StopStorage(storageIndex(t, c, down))
	eventually(t, "stopped follower marked Dead", func() bool {
		reps, _ = shardReplicas(t, c, "xfer")
		return reps[down] == "Dead"
	})
	for from := 300_001; from <= 300_000+points/100; from += 100 {
		ok(t, c, "PUT", "/collections/xfer/points?wait=true", map[string]any{"points": replicatedPoints(from, from+99)})
	}
	restartStopped(c)
	eventually(t, "returned follower Active", func() bool {
		reps, _ = shardReplicas(t, c, "xfer")
		return reps[down] == "Active"
	})
	m, records := copyMethod(t, c, primary, down)
	if m != "wal_delta" || records < 1 || records > int64(points/100/100+10) {
		t.Fatalf("recovery of node %d: method %q, %d records; want wal_delta of the %d missed writes", down, m, records, points/100/100)
	}
	n = countPoints(t, c, "xfer")
	if n < points+len(acked)+points/100 {
		t.Fatalf("count %d, want at least %d", n, points+len(acked)+points/100)
	}
	waitDigests(t, c, "xfer", 3, n)

	// The other combinations, each with a writer running: replicate by
	// stream_records (to the node the move emptied), move by snapshot (to
	// a node a drop emptied), and replicate asking for wal_delta, which an
	// empty target cannot take: it gets a snapshot.
	step := func(what string, op map[string]any, target uint64, want string, from int) {
		t.Helper()
		stop := startWriter(c, "xfer", from)
		ok(t, c, "POST", path, op)
		eventually(t, what+" done", func() bool {
			reps, _ = shardReplicas(t, c, "xfer")
			return reps[target] == "Active" && len(transfers(t, c, "xfer")) == 0
		})
		acked = append(acked, stop()...)
		if m, _ := copyMethod(t, c, primary, target); m != want {
			t.Fatalf("%s used %q, want %s", what, m, want)
		}
	}
	step("replication by stream_records", clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": follower, "method": "stream_records"}), follower, "stream_records", 400_001)
	ok(t, c, "POST", path, clusterOp("drop_replica", map[string]any{"shard_id": 0, "peer_id": spare[0]}))
	eventually(t, "replica dropped", func() bool { reps, _ = shardReplicas(t, c, "xfer"); _, held := reps[spare[0]]; return !held })
	step("move by snapshot", clusterOp("move_shard", map[string]any{"shard_id": 0, "from_peer_id": follower, "to_peer_id": spare[0], "method": "snapshot"}), spare[0], "snapshot", 500_001)
	step("replication asking for wal_delta", clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": follower, "method": "wal_delta"}), follower, "snapshot", 600_001)
	requireReadable(t, c, "xfer", acked)
	n = countPoints(t, c, "xfer")
	waitDigests(t, c, "xfer", 4, n)
}

// transferComment returns the comment of the shard transfer to node to,
// "" when none is listed.
func transferComment(t *testing.T, c *harness.Cluster, collection string, to uint64) string {
	for _, tr := range transfers(t, c, collection) {
		m := obj(t, tr)
		if uint64(num(t, m["to"])) == to {
			s, _ := m["comment"].(string)
			return s
		}
	}
	return ""
}

// slowCluster starts meta and storage nodes whose outgoing transfers are
// limited to 2 MB/s, and a one-shard collection of 20 000 points with
// replication factor rf; it returns the shard's replicas and primary.
func slowCluster(t *testing.T, meta, storage, rf int, name string) (*harness.Cluster, map[uint64]string, uint64) {
	c := harness.Start(t, harness.Options{MetaNodes: meta, StorageNodes: storage, Configure: func(tier string, _ int, cfg *config.Config) {
		if tier == "storage" {
			cfg.Storage.Performance.TransferRateLimitMB = 2
		}
	}})
	ok(t, c, "PUT", "/collections/"+name, map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 1, "replication_factor": rf,
	})
	var reps map[uint64]string
	var primary uint64
	eventually(t, "Active replicas", func() bool {
		reps, primary = shardReplicas(t, c, name)
		if len(reps) != rf {
			return false
		}
		for _, st := range reps {
			if st != "Active" {
				return false
			}
		}
		return true
	})
	for from := 1; from <= 20_000; from += 1000 {
		ok(t, c, "PUT", "/collections/"+name+"/points?wait=true", map[string]any{"points": replicatedPoints(from, from+999)})
	}
	return c, reps, primary
}

// startSlowReplication starts a snapshot replication of collection's
// shard 0 from primary to target and waits until its progress shows in
// the transfer's comment: the copy is under way.
func startSlowReplication(t *testing.T, c *harness.Cluster, collection string, primary, target uint64) {
	ok(t, c, "POST", "/collections/"+collection+"/cluster", clusterOp("replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": target, "method": "snapshot"}))
	eventually(t, "progress in the transfer's comment", func() bool {
		return strings.Contains(transferComment(t, c, collection, target), "MiB of")
	})
}

// restartStopped starts every storage node of c that was stopped.
func restartStopped(c *harness.Cluster) {
	for i := range c.Storage {
		if c.Storage[i] == nil {
			c.StartStorage(i)
		}
	}
}

// waitTransferred waits (up to 2 minutes: ~40 MB at 2 MB/s) until target
// holds an Active replica of collection's shard 0, no transfer is listed
// and done, if set, accepts the shard's primary; it returns the primary.
func waitTransferred(t *testing.T, c *harness.Cluster, collection string, target uint64, done func(primary uint64) bool) uint64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if r := c.Do("GET", "/collections/"+collection+"/cluster", nil); r.Status == http.StatusOK {
			reps, primary := shardReplicas(t, c, collection)
			if reps[target] == "Active" && len(transfers(t, c, collection)) == 0 && (done == nil || done(primary)) {
				return primary
			}
		}
		if time.Now().After(deadline) {
			reps, primary := shardReplicas(t, c, collection)
			t.Fatalf("transfer to node %d not done: replicas %v, primary %d, transfers %v", target, reps, primary, transfers(t, c, collection))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTransferSurvivesTargetLoss: a snapshot transfer slowed down by the
// transfer rate limit reports its progress in the transfer's comment; its
// target is stopped mid-transfer, so the target replica goes Dead and the
// transfer waits; once the target is back, the copy is made again and the
// replica ends Active with the primary's content.
func TestTransferSurvivesTargetLoss(t *testing.T) {
	c, reps, primary := slowCluster(t, 1, 3, 1, "slow")
	target := spareNodes(t, c, reps)[0]
	startSlowReplication(t, c, "slow", primary, target)
	c.StopStorage(storageIndex(t, c, target))
	eventually(t, "stopped target marked Dead", func() bool {
		reps, _ = shardReplicas(t, c, "slow")
		return reps[target] == "Dead"
	})
	if len(transfers(t, c, "slow")) != 1 {
		t.Fatalf("transfer not listed while its target is down")
	}
	restartStopped(c)
	waitTransferred(t, c, "slow", target, nil)
	if m, _ := copyMethod(t, c, primary, target); m != "snapshot" {
		t.Fatalf("copy to the returned target used %q", m)
	}
	waitDigests(t, c, "slow", 2, 20_000)
}

// TestTransferSurvivesNATSRestart: with three meta nodes (each running a
// NATS server, clustered), a rate-limited snapshot transfer goes on while
// every meta node is restarted in turn, so both storage nodes lose their
// NATS server at some point and reconnect to another; the transfer
// resumes and the new replica ends Active with the primary's content.
func TestTransferSurvivesNATSRestart(t *testing.T) {
	c, reps, primary := slowCluster(t, 3, 2, 1, "nats")
	target := spareNodes(t, c, reps)[0]
	startSlowReplication(t, c, "nats", primary, target)
	for i := range c.Meta {
		c.StopMeta(i)
		c.StartMeta(i)
	}
	waitTransferred(t, c, "nats", target, nil)
	if m, _ := copyMethod(t, c, primary, target); m != "snapshot" {
		t.Fatalf("copy used %q", m)
	}
	waitDigests(t, c, "nats", 2, 20_000)
}

// TestTransferAbortMidway: a snapshot transfer is aborted while it runs:
// the target replica is removed (its node deletes the file) and the
// source keeps every point.
func TestTransferAbortMidway(t *testing.T) {
	c, reps, primary := slowCluster(t, 1, 2, 1, "abort")
	target := spareNodes(t, c, reps)[0]
	startSlowReplication(t, c, "abort", primary, target)
	ok(t, c, "POST", "/collections/abort/cluster", clusterOp("abort_transfer", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": target}))
	eventually(t, "transfer and target replica gone", func() bool {
		reps, _ = shardReplicas(t, c, "abort")
		_, held := reps[target]
		return !held && len(transfers(t, c, "abort")) == 0
	})
	eventually(t, "the target deleted its replica file", func() bool { return len(replicaFiles(t, c, target, "abort")) == 0 })
	if n := countPoints(t, c, "abort"); n != 20_000 {
		t.Fatalf("count after the abort %d", n)
	}
	waitDigests(t, c, "abort", 1, 20_000)
}

// TestTransferSurvivesSourceLoss: the source of a snapshot transfer (the
// shard's primary) is stopped mid-transfer; the shard fails over to its
// other replica, which, as the new primary, makes the copy: the target
// ends Active with the same content, and nothing acknowledged is lost.
func TestTransferSurvivesSourceLoss(t *testing.T) {
	c, reps, primary := slowCluster(t, 1, 3, 2, "srcloss")
	target := spareNodes(t, c, reps)[0]
	startSlowReplication(t, c, "srcloss", primary, target)
	c.StopStorage(storageIndex(t, c, primary))
	newPrimary := waitTransferred(t, c, "srcloss", target, func(p uint64) bool { return p != primary })
	if m, _ := copyMethod(t, c, newPrimary, target); m != "snapshot" {
		t.Fatalf("copy from the new primary used %q", m)
	}
	restartStopped(c)
	waitDigests(t, c, "srcloss", 3, 20_000)
}
