package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/tests/harness"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// shardZero reads shard 0 of a collection's shard map from etcd.
func shardZero(t *testing.T, c *harness.Cluster, collection string) *shoalv1.Shard {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.Meta[0].ClientURL()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, cluster.ShardMapKey(collection))
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("read shard map: %v", err)
	}
	m := &shoalv1.ShardMap{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, m); err != nil {
		t.Fatal(err)
	}
	return cluster.FindShard(m, 0)
}

// storageIndex returns the harness index of a storage node id.
func storageIndex(t *testing.T, c *harness.Cluster, id uint64) int {
	t.Helper()
	for i, s := range c.Storage {
		if s != nil && s.NodeID() == id {
			return i
		}
	}
	t.Fatalf("no running storage node %d", id)
	return -1
}

// TestWritesAndReadsThroughReplicaLoss is the seed's write-ordering and
// read-consistency scenario: with replication 3 and write consistency 2,
// losing a follower does not fail wait=true writes, reads with
// consistency=majority answer, the follower catches up when it returns,
// and losing the primary fails the shard over to the most advanced
// replica without losing an acknowledged write.
func TestWritesAndReadsThroughReplicaLoss(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3, Configure: func(tier string, _ int, cfg *config.Config) {
		cfg.Cluster.Consensus.TickPeriodMs = 50 // 2 s leases: faster detection
	}})
	ok(t, c, "PUT", "/collections/f", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 1, "replication_factor": 3, "write_consistency_factor": 2,
	})
	ok(t, c, "PUT", "/collections/f/points?wait=true", map[string]any{"points": replicatedPoints(1, 100)})
	waitDigests(t, c, "f", 3, 100)

	// A follower's node dies: every write still succeeds (primary + the
	// other follower make 2), and majority reads answer.
	sh := shardZero(t, c, "f")
	var follower uint64
	for _, r := range sh.GetReplicas() {
		if r.GetNodeId() != sh.GetPrimary() {
			follower = r.GetNodeId()
			break
		}
	}
	fi := storageIndex(t, c, follower)
	c.StopStorage(fi)
	for from := 101; from <= 300; from += 20 {
		ok(t, c, "PUT", "/collections/f/points?wait=true", map[string]any{"points": replicatedPoints(from, from+19)})
		if n := num(t, obj(t, ok(t, c, "POST", "/collections/f/points/count?consistency=majority", map[string]any{"exact": true}))["count"]); n != float64(from+19) {
			t.Fatalf("majority count after writing up to %d: %v", from+19, n)
		}
	}
	// It comes back: Partial, caught up from the primary's log, Active.
	c.StartStorage(fi)
	waitDigests(t, c, "f", 3, 300)

	// The primary's node dies: the controller promotes a follower with a
	// new term, and writes go on once it has.
	old := shardZero(t, c, "f")
	pi := storageIndex(t, c, old.GetPrimary())
	c.StopStorage(pi)
	start := time.Now()
	eventually(t, "a write after the primary died", func() bool {
		return c.Do("PUT", "/collections/f/points?wait=true", map[string]any{"points": replicatedPoints(301, 320)}).Status == 200
	})
	t.Logf("first successful write %s after stopping the primary", time.Since(start).Round(time.Millisecond))
	now := shardZero(t, c, "f")
	if now.GetPrimary() == old.GetPrimary() || now.GetTerm() <= old.GetTerm() {
		t.Fatalf("no failover: before %v, after %v", old, now)
	}
	ok(t, c, "PUT", "/collections/f/points?wait=true", map[string]any{"points": replicatedPoints(321, 400)})
	got := list(t, ok(t, c, "POST", "/collections/f/points?consistency=all", map[string]any{"ids": []any{1, 150, 300, 320, 400}}))
	if len(got) != 5 {
		t.Fatalf("acknowledged points after failover: %v", got)
	}
	// The old primary returns and is brought up to date.
	c.StartStorage(pi)
	waitDigests(t, c, "f", 3, 400)
}
