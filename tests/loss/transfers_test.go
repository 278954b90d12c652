package loss

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// bulkPoints returns points from..to (inclusive) with dim-dimensional
// vectors, outside every writer's id space.
func bulkPoints(from, to, dim int) []map[string]any {
	pts := make([]map[string]any, 0, to-from+1)
	for id := from; id <= to; id++ {
		v := make([]float64, dim)
		for j := range v {
			v[j] = float64((id+j)%97) / 97
		}
		pts = append(pts, map[string]any{"id": id, "vector": v, "payload": map[string]any{"bulk": true}})
	}
	return pts
}

// clusterOp posts one cluster operation for the collection's shard 0.
func (c *procCluster) clusterOp(ctx context.Context, collection, op string, body map[string]any) error {
	r, err := call(ctx, http.MethodPost, c.routerURLs[0]+"/collections/"+collection+"/cluster", map[string]any{op: body})
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("%s: %d %s", op, r.Status, r.Raw)
	}
	return nil
}

// holds accepts replica counts in which node holds a replica (want) or
// none; waitCounts only accepts settled states, where every replica is
// Active.
func holds(node uint64, want bool) func(map[uint64]int) bool {
	return func(counts map[uint64]int) bool { return (counts[node] > 0) == want }
}

// TestTransferMethodsLoseNothing: real processes (1 meta, 4 storage nodes,
// 2 routers), a shard of 50 000 points plus the loss checker's writers
// running throughout: replicate_shard by snapshot, move_shard by
// stream_records, and a follower killed (SIGKILL) and restarted so that
// it is recovered by wal_delta. Afterwards every acknowledged write is
// there and all replicas have the same digest.
func TestTransferMethodsLoseNothing(t *testing.T) {
	needBinaries(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := workDir(t, "shoal-transfers")
	c := startCluster(t, dir, 4, 2)
	defer func() {
		if t.Failed() {
			t.Logf("log evidence (warnings and errors, last lines per process):\n%s", logEvidence(c, 25))
		}
	}()
	if err := createCollection(ctx, c.routerURLs[0], lossCollection, map[string]any{
		"vectors": map[string]any{"size": lossDim, "distance": "Dot"}, "shard_number": 1,
		"replication_factor": 2, "write_consistency_factor": 1,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.waitAllActive(ctx, lossCollection, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	const bulk = 50_000
	for from := 10_000_000; from < 10_000_000+bulk; from += 1000 {
		r, err := call(ctx, http.MethodPut, c.routerURLs[0]+"/collections/"+lossCollection+"/points?wait=true", map[string]any{"points": bulkPoints(from, from+999, lossDim)})
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("bulk upsert: %v %d %s", err, r.Status, r.Raw)
		}
	}
	w := startWriters(ctx, c, lossCollection)
	defer w.stop()
	sleep(ctx, time.Second)

	m, err := c.shardMap(ctx, lossCollection)
	if err != nil {
		t.Fatal(err)
	}
	sh := m.GetShards()[0]
	primary := sh.GetPrimary()
	var follower uint64
	held := map[uint64]bool{}
	for _, r := range sh.GetReplicas() {
		held[r.GetNodeId()] = true
		if r.GetNodeId() != primary {
			follower = r.GetNodeId()
		}
	}
	var spare []uint64
	c.nodeMu.Lock()
	for id := range c.nodeProc {
		if !held[id] {
			spare = append(spare, id)
		}
	}
	c.nodeMu.Unlock()
	sort.Slice(spare, func(i, j int) bool { return spare[i] < spare[j] })
	if len(spare) != 2 {
		t.Fatalf("spare nodes %v", spare)
	}

	steps := []struct {
		what string
		op   string
		body map[string]any
		node uint64
		gone bool
	}{
		{"replicate by snapshot", "replicate_shard", map[string]any{"shard_id": 0, "from_peer_id": primary, "to_peer_id": spare[0], "method": "snapshot"}, spare[0], false},
		{"move by stream_records", "move_shard", map[string]any{"shard_id": 0, "from_peer_id": follower, "to_peer_id": spare[1], "method": "stream_records"}, follower, true},
	}
	for _, s := range steps {
		start := time.Now()
		if err := c.clusterOp(ctx, lossCollection, s.op, s.body); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if _, err := c.waitCounts(ctx, 3*time.Minute, holds(s.node, !s.gone), lossCollection); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		t.Logf("%s: done in %v", s.what, time.Since(start).Round(10*time.Millisecond))
	}
	// wal_delta: the replicated node is killed, misses writes, returns.
	p := c.procOf(spare[0])
	if err := p.kill9(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := c.shardMap(ctx, lossCollection)
		dead := false
		if err == nil {
			for _, r := range m.GetShards()[0].GetReplicas() {
				dead = dead || (r.GetNodeId() == spare[0] && r.GetState() == shoalv1.ReplicaState_REPLICA_STATE_DEAD)
			}
		}
		if dead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed node %d's replica not marked Dead", spare[0])
		}
		sleep(ctx, 200*time.Millisecond)
	}
	sleep(ctx, time.Second) // writes it misses
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.waitCounts(ctx, 3*time.Minute, holds(spare[0], true), lossCollection); err != nil {
		t.Fatalf("recovery of the killed node: %v", err)
	}
	before := w.acked.Load()
	sleep(ctx, 2*time.Second)
	w.stop()
	if w.acked.Load() == before {
		t.Errorf("no write acknowledged after the transfers")
	}

	if _, err := c.waitAllActive(ctx, lossCollection, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	_, issues, err := waitDigests(ctx, c, lossCollection, 3, 60*time.Second)
	if err != nil {
		t.Errorf("digests: %v", err)
	}
	for _, p := range issues {
		t.Errorf("digests: %s", p)
	}
	got, findings := w.findings(ctx, t, c.routerURLs[1], lossCollection)
	if n, err := countExact(ctx, c.routerURLs[0], lossCollection); err != nil || int(n) != bulk+len(got) {
		t.Errorf("exact count %d (%v), want %d bulk points + %d written", n, err, bulk, len(got))
	}
	st := sumWriters(w.ws)
	t.Logf("transfers checker: %d operations acknowledged (%d upserted, %d deleted), %d attempts; failed attempts by cause:%s; losses: %d",
		st.ops, st.upserted, st.deleted, st.attempts, st.failureLines(), len(findings))
	if st.ops == 0 {
		t.Errorf("no write was acknowledged: the checker checked nothing")
	}
}
