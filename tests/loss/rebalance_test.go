package loss

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/tests/harness"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// addStorage starts one more storage node process and waits until it is
// registered.
func (c *procCluster) addStorage(t *testing.T) *proc {
	t.Helper()
	i := len(c.storages)
	port := harness.FreePort(t)
	p := &proc{
		name: "shoal-storage", label: fmt.Sprintf("storage-%d", i),
		args:   []string{"--uri", fmt.Sprintf("http://127.0.0.1:%d", port), "--meta", c.metaURL, "--storage-path", filepath.Join(c.dir, fmt.Sprintf("storage-%d", i)), "--log-level", "info"},
		log:    filepath.Join(c.dir, fmt.Sprintf("storage-%d.log", i)),
		health: fmt.Sprintf("http://127.0.0.1:%d/healthz", port),
	}
	c.mustStart(t, p)
	c.storages = append(c.storages, p)
	if err := c.learnNodes(context.Background(), len(c.storages)); err != nil {
		t.Fatal(err)
	}
	return p
}

// replicaCounts counts the replicas per storage node over collections,
// and reports whether all are Active and no transfer record is left.
func (c *procCluster) replicaCounts(ctx context.Context, collections ...string) (map[uint64]int, bool, error) {
	counts := map[uint64]int{}
	settled := true
	for _, name := range collections {
		m, err := c.shardMap(ctx, name)
		if err != nil {
			return nil, false, err
		}
		for _, sh := range m.GetShards() {
			for _, r := range sh.GetReplicas() {
				counts[r.GetNodeId()]++
				if r.GetState() != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
					settled = false
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := c.etcd.Get(ctx, cluster.TransfersPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return nil, false, err
	}
	return counts, settled && resp.Count == 0, nil
}

// waitCounts polls replicaCounts until ok accepts a settled state.
func (c *procCluster) waitCounts(ctx context.Context, within time.Duration, ok func(map[uint64]int) bool, collections ...string) (map[uint64]int, error) {
	deadline := time.Now().Add(within)
	for {
		counts, settled, err := c.replicaCounts(ctx, collections...)
		if err == nil && settled && ok(counts) {
			return counts, nil
		}
		if time.Now().After(deadline) {
			return counts, fmt.Errorf("replica counts %v (settled %v, err %v) not reached after %v", counts, settled, err, within)
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

// TestRebalanceAndDrainLoseNothing runs the loss checker's writers (real
// processes: 1 meta, storage nodes, 2 routers) through a scale-out and a
// scale-in: a 4th storage node joins a 3-node cluster holding 2
// collections and receives replicas without any manual call (counts even
// ±1); then a node is drained (POST /cluster/peer/{id}/drain), removed
// (DELETE /cluster/peer/{id}) and stopped. Afterwards every acknowledged
// write is there and every replica has the same digest.
func TestRebalanceAndDrainLoseNothing(t *testing.T) {
	needBinaries(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := workDir(t, "shoal-rebalance")
	c := startCluster(t, dir, 3, 2)
	defer func() {
		if t.Failed() {
			t.Logf("log evidence (warnings and errors, last lines per process):\n%s", logEvidence(c, 25))
		}
	}()
	const rf = 2
	for _, name := range []string{lossCollection, "other"} {
		if err := createCollection(ctx, c.routerURLs[0], name, map[string]any{
			"vectors": map[string]any{"size": lossDim, "distance": "Dot"}, "shard_number": 3,
			"replication_factor": rf, "write_consistency_factor": 1,
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.waitAllActive(ctx, name, 60*time.Second); err != nil {
			t.Fatalf("new collection %s: %v", name, err)
		}
	}
	w := startWriters(ctx, c, lossCollection)
	defer w.stop()
	sleep(ctx, 2*time.Second)

	// Scale out: 12 replicas over 4 nodes, 3 each.
	added := c.addStorage(t)
	even := func(nodes int) func(map[uint64]int) bool {
		return func(counts map[uint64]int) bool {
			if len(counts) != nodes {
				return false
			}
			lo, hi := 1<<30, 0
			for _, n := range counts {
				lo, hi = min(lo, n), max(hi, n)
			}
			return hi-lo <= 1
		}
	}
	counts, err := c.waitCounts(ctx, 3*time.Minute, even(4), lossCollection, "other")
	if err != nil {
		t.Fatalf("after adding %s: %v", added.label, err)
	}
	t.Logf("after adding %s: replicas per node %v", added.label, counts)
	before := w.acked.Load()
	sleep(ctx, time.Second)
	if w.acked.Load() == before {
		t.Fatalf("no write acknowledged after the rebalancing")
	}

	// Scale in: drain the first node, remove it, stop it.
	var drained uint64
	c.nodeMu.Lock()
	for id, p := range c.nodeProc {
		if p == c.storages[0] {
			drained = id
		}
	}
	c.nodeMu.Unlock()
	r, err := call(ctx, http.MethodDelete, fmt.Sprintf("%s/cluster/peer/%d", c.routerURLs[0], drained), nil)
	if err != nil || r.Status != http.StatusBadRequest {
		t.Fatalf("removing a peer that holds replicas: %v %d %s", err, r.Status, r.Raw)
	}
	r, err = call(ctx, http.MethodPost, fmt.Sprintf("%s/cluster/peer/%d/drain", c.routerURLs[0], drained), nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("drain node %d: %v %d %s", drained, err, r.Status, r.Raw)
	}
	counts, err = c.waitCounts(ctx, 3*time.Minute, func(counts map[uint64]int) bool {
		_, held := counts[drained]
		return !held && even(3)(counts)
	}, lossCollection, "other")
	if err != nil {
		t.Fatalf("draining node %d: %v", drained, err)
	}
	t.Logf("after draining node %d: replicas per node %v", drained, counts)
	r, err = call(ctx, http.MethodDelete, fmt.Sprintf("%s/cluster/peer/%d", c.routerURLs[0], drained), nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("remove drained node %d: %v %d %s", drained, err, r.Status, r.Raw)
	}
	c.storages[0].stop()
	before = w.acked.Load()
	sleep(ctx, 3*time.Second)
	w.stop()
	if w.acked.Load() == before {
		t.Errorf("no write acknowledged after the removal")
	}

	if _, err := c.waitAllActive(ctx, lossCollection, 60*time.Second); err != nil {
		t.Fatalf("after the removal: %v", err)
	}
	_, issues, err := waitDigests(ctx, c, lossCollection, rf, 30*time.Second)
	if err != nil {
		t.Errorf("digests: %v", err)
	}
	for _, p := range issues {
		t.Errorf("digests: %s", p)
	}
	_, findings := w.findings(ctx, t, c.routerURLs[1], lossCollection)
	st := sumWriters(w.ws)
	var b strings.Builder
	fmt.Fprintf(&b, "rebalance/drain checker: %d operations acknowledged (%d points upserted, %d deleted), %d attempts; failed attempts by cause:%s\n",
		st.ops, st.upserted, st.deleted, st.attempts, st.failureLines())
	fmt.Fprintf(&b, "  losses: %d\n", len(findings))
	t.Log("\n" + b.String())
	if st.ops == 0 {
		t.Errorf("no write was acknowledged: the checker checked nothing")
	}
}
