package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// keyReplicaStates returns the states of the replicas of a shard key's
// shards, from GET /collections/{c}/cluster.
func keyReplicaStates(t *testing.T, c *harness.Cluster, collection string, key any) []string {
	t.Helper()
	var out []string
	for _, r := range list(t, obj(t, ok(t, c, "GET", "/collections/"+collection+"/cluster", nil))["remote_shards"]) {
		rs := obj(t, r)
		if fmt.Sprint(rs["shard_key"]) == fmt.Sprint(key) {
			out = append(out, fmt.Sprint(rs["state"]))
		}
	}
	return out
}

func allActive(states []string, n int) bool {
	if len(states) != n {
		return false
	}
	for _, s := range states {
		if s != "Active" {
			return false
		}
	}
	return true
}

// TestShardingKeyOperations creates and drops shard keys through POST
// /collections/{c}/cluster and creates keys with an initial_state.
func TestShardingKeyOperations(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 2})
	ok(t, c, "PUT", "/collections/ko", map[string]any{
		"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "sharding_method": "custom", "replication_factor": 2,
	})
	if res := ok(t, c, "POST", "/collections/ko/cluster", map[string]any{"create_sharding_key": map[string]any{"shard_key": "x", "shards_number": 2}}); res != true {
		t.Fatalf("create_sharding_key answered %v", res)
	}
	if keys := shardKeys(t, c, "ko"); !slices.Equal(keys, []string{"x"}) {
		t.Fatalf("shard keys %v, want [x]", keys)
	}
	if st := keyReplicaStates(t, c, "ko", "x"); !allActive(st, 4) {
		t.Fatalf("key x replicas %v, want 4 Active", st)
	}
	ok(t, c, "PUT", "/collections/ko/points?wait=true", map[string]any{"points": keyedPoints(1, 5), "shard_key": "x"})
	fails(t, c, "POST", "/collections/ko/cluster", map[string]any{"create_sharding_key": map[string]any{"shard_key": "x"}}, 400, "already exists")
	fails(t, c, "POST", "/collections/ko/cluster", map[string]any{"create_sharding_key": map[string]any{"shards_number": 1}}, 400, "missing field `shard_key`")
	fails(t, c, "POST", "/collections/ko/cluster", map[string]any{"drop_sharding_key": map[string]any{"shard_key": "nope"}}, 400, "does not exist")
	fails(t, c, "POST", "/collections/ko/cluster", map[string]any{"drop_sharding_key": map[string]any{"shard_key": "x", "extra": 1}}, 400, "unknown field")

	if res := ok(t, c, "POST", "/collections/ko/cluster", map[string]any{"drop_sharding_key": map[string]any{"shard_key": "x"}}); res != true {
		t.Fatalf("drop_sharding_key answered %v", res)
	}
	if keys := shardKeys(t, c, "ko"); len(keys) != 0 {
		t.Fatalf("shard keys after the drop %v", keys)
	}
	fails(t, c, "PUT", "/collections/ko/points?wait=true", map[string]any{"points": keyedPoints(1, 1), "shard_key": "x"}, 400, "does not exist")

	// initial_state: Active replicas are placed Active at once; Partial
	// ones are filled by their primary, which then activates them.
	ok(t, c, "PUT", "/collections/ko/shards", map[string]any{"shard_key": "act", "initial_state": "Active"})
	if st := keyReplicaStates(t, c, "ko", "act"); !allActive(st, 2) {
		t.Fatalf("key act replicas %v, want 2 Active", st)
	}
	eventually(t, "writes to the Active key", func() bool {
		return c.Do("PUT", "/collections/ko/points?wait=true", map[string]any{"points": keyedPoints(1, 5), "shard_key": "act"}).Status == 200
	})
	ok(t, c, "PUT", "/collections/ko/shards", map[string]any{"shard_key": 9, "initial_state": "Partial"})
	eventually(t, "the Partial key's replicas activated by its primary", func() bool {
		return allActive(keyReplicaStates(t, c, "ko", 9), 2)
	})
	ok(t, c, "PUT", "/collections/ko/points?wait=true", map[string]any{"points": keyedPoints(11, 15), "shard_key": 9})
	if got := searchIDs(t, c, "ko", 9); !slices.Equal(got, idRange(11, 15)) {
		t.Fatalf("search in key 9 found %v", got)
	}
	fails(t, c, "PUT", "/collections/ko/shards", map[string]any{"shard_key": "d", "initial_state": "Dead"}, 400, "not supported")
	fails(t, c, "PUT", "/collections/ko/shards", map[string]any{"shard_key": "d", "initial_state": "Sleeping"}, 400, "unknown variant")
}

// TestClusterTelemetryRecoverQuotas checks GET /cluster/telemetry against
// the cluster, POST /cluster/recover, and the quota configuration's round
// trip through meta.
func TestClusterTelemetryRecoverQuotas(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 2})
	ok(t, c, "PUT", "/collections/tel", map[string]any{
		"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 2, "replication_factor": 2,
	})

	tel := obj(t, ok(t, c, "GET", "/cluster/telemetry?details_level=1", nil))
	coll := obj(t, obj(t, tel["collections"])["tel"])
	if coll["id"] != "tel" {
		t.Fatalf("telemetry collection %v", coll)
	}
	shards := list(t, coll["shards"])
	if len(shards) != 2 {
		t.Fatalf("telemetry shards %v", shards)
	}
	for _, s := range shards {
		reps := list(t, obj(t, s)["replicas"])
		if len(reps) != 2 {
			t.Fatalf("telemetry shard %v: want 2 replicas", s)
		}
		for _, r := range reps {
			if obj(t, r)["state"] != "Active" {
				t.Fatalf("telemetry replica %v", r)
			}
		}
	}
	cl := obj(t, tel["cluster"])
	peers := obj(t, cl["peers"])
	for _, s := range c.Storage {
		p := obj(t, peers[fmt.Sprint(s.NodeID())])
		if p["responsive"] != true || p["uri"] == "" {
			t.Fatalf("storage peer %d in telemetry: %v", s.NodeID(), p)
		}
	}
	leaders := 0
	for _, p := range peers {
		if d, isObj := obj(t, p)["details"].(map[string]any); isObj && d["role"] == "Leader" {
			leaders++
		}
	}
	if leaders != 1 || int(num(t, cl["number_of_peers"])) != len(peers) {
		t.Fatalf("telemetry peers %v: want one Raft leader", peers)
	}
	fails(t, c, "GET", "/cluster/telemetry?timeout=0", nil, 400, "timeout")

	if res := ok(t, c, "POST", "/cluster/recover", nil); res != true {
		t.Fatalf("recover answered %v", res)
	}

	q := obj(t, ok(t, c, "GET", "/quotas", nil))
	if cfg := obj(t, q["config"]); cfg["enabled"] != false || len(cfg) != 1 {
		t.Fatalf("default quota config %v", cfg)
	}
	obj(t, q["usage"])
	if len(obj(t, q["peers"])) != 1 {
		t.Fatalf("quota peers %v", q["peers"])
	}
	if res := ok(t, c, "PUT", "/quotas?wait=true", map[string]any{"enabled": true, "max_disk_usage_percent": 90, "release_margin_percent": 0}); res != true {
		t.Fatalf("set quotas answered %v", res)
	}
	cfg := obj(t, obj(t, ok(t, c, "GET", "/quotas", nil))["config"])
	if cfg["enabled"] != true || num(t, cfg["max_disk_usage_percent"]) != 90 || num(t, cfg["release_margin_percent"]) != 0 || cfg["max_resident_memory_percent"] != nil {
		t.Fatalf("quota config after the update %v", cfg)
	}
	fails(t, c, "PUT", "/quotas", map[string]any{"max_disk_usage_percent": 0}, 422, "max_disk_usage_percent")
	fails(t, c, "PUT", "/quotas", map[string]any{"max_resident_memory_percent": 101}, 422, "max_resident_memory_percent")
	fails(t, c, "PUT", "/quotas", map[string]any{"max_cpu": 10}, 400, "unknown field")
	fails(t, c, "PUT", "/quotas", map[string]any{"enabled": "yes"}, 400, "enabled")
	// A refused update left the configuration as it was.
	if cfg := obj(t, obj(t, ok(t, c, "GET", "/quotas", nil))["config"]); cfg["enabled"] != true || num(t, cfg["max_disk_usage_percent"]) != 90 {
		t.Fatalf("quota config after refused updates %v", cfg)
	}
}
