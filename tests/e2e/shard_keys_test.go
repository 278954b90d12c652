package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// shardKeys returns GET /collections/{c}/shards' keys, formatted.
func shardKeys(t *testing.T, c *harness.Cluster, collection string) []string {
	t.Helper()
	var out []string
	for _, k := range list(t, obj(t, ok(t, c, "GET", "/collections/"+collection+"/shards", nil))["shard_keys"]) {
		out = append(out, fmt.Sprint(obj(t, k)["key"]))
	}
	return out
}

// keyedPoints returns points ids from..to with vectors (id, 0).
func keyedPoints(from, to int) []map[string]any {
	var pts []map[string]any
	for i := from; i <= to; i++ {
		pts = append(pts, map[string]any{"id": i, "vector": []float64{float64(i), 0}})
	}
	return pts
}

// searchIDs searches near (0, 0) with a shard key selector (nil: none)
// and returns the sorted ids found.
func searchIDs(t *testing.T, c *harness.Cluster, collection string, key any) []int {
	t.Helper()
	body := map[string]any{"vector": []float64{0, 0}, "limit": 100}
	if key != nil {
		body["shard_key"] = key
	}
	var out []int
	for _, p := range list(t, ok(t, c, "POST", "/collections/"+collection+"/points/search", body)) {
		out = append(out, int(num(t, obj(t, p)["id"])))
	}
	slices.Sort(out)
	return out
}

func idRange(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestShardKeys creates a collection with custom sharding, gives it two
// shard keys, writes to each, reads with and without a key, deletes a key
// and checks its points are gone, and checks the errors of wrong uses.
func TestShardKeys(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/sk", map[string]any{
		"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "sharding_method": "custom", "replication_factor": 2,
	})
	if keys := shardKeys(t, c, "sk"); len(keys) != 0 {
		t.Fatalf("new custom collection has shard keys %v", keys)
	}
	info := obj(t, ok(t, c, "GET", "/collections/sk", nil))
	if m := obj(t, obj(t, info["config"])["params"])["sharding_method"]; m != "custom" {
		t.Fatalf("sharding_method %v, want custom", m)
	}
	// Writes need a key, and the key must exist.
	fails(t, c, "PUT", "/collections/sk/points?wait=true", map[string]any{"points": keyedPoints(1, 1)}, 400, "Shard key is required")
	fails(t, c, "PUT", "/collections/sk/points?wait=true", map[string]any{"points": keyedPoints(1, 1), "shard_key": "nope"}, 400, "does not exist")

	ok(t, c, "PUT", "/collections/sk/shards", map[string]any{"shard_key": "tenant-a", "shards_number": 2})
	ok(t, c, "PUT", "/collections/sk/shards", map[string]any{"shard_key": 7})
	if keys := shardKeys(t, c, "sk"); !slices.Equal(keys, []string{"tenant-a", "7"}) {
		t.Fatalf("shard keys %v, want [tenant-a 7]", keys)
	}
	fails(t, c, "PUT", "/collections/sk/shards", map[string]any{"shard_key": 7}, 400, "already exists")
	fails(t, c, "PUT", "/collections/sk/shards", map[string]any{"shards_number": 1}, 400, "missing field `shard_key`")

	// The cluster info shows every shard with its key, two replicas each.
	perKey := map[string]map[float64]bool{}
	replicas := 0
	for _, r := range list(t, obj(t, ok(t, c, "GET", "/collections/sk/cluster", nil))["remote_shards"]) {
		rs := obj(t, r)
		k := fmt.Sprint(rs["shard_key"])
		if perKey[k] == nil {
			perKey[k] = map[float64]bool{}
		}
		perKey[k][num(t, rs["shard_id"])] = true
		replicas++
	}
	if len(perKey["tenant-a"]) != 2 || len(perKey["7"]) != 1 || len(perKey) != 2 || replicas != 6 {
		t.Fatalf("cluster info shards by key %v (%d replicas), want tenant-a: 2 shards, 7: 1, 2 replicas each", perKey, replicas)
	}

	ok(t, c, "PUT", "/collections/sk/points?wait=true", map[string]any{"points": keyedPoints(1, 10), "shard_key": "tenant-a"})
	ok(t, c, "PUT", "/collections/sk/points?wait=true", map[string]any{"points": keyedPoints(101, 105), "shard_key": 7})

	if got := searchIDs(t, c, "sk", "tenant-a"); !slices.Equal(got, idRange(1, 10)) {
		t.Fatalf("search in tenant-a found %v", got)
	}
	if got := searchIDs(t, c, "sk", 7); !slices.Equal(got, idRange(101, 105)) {
		t.Fatalf("search in 7 found %v", got)
	}
	if got := searchIDs(t, c, "sk", nil); !slices.Equal(got, append(idRange(1, 10), idRange(101, 105)...)) {
		t.Fatalf("search without a key found %v", got)
	}
	if got := searchIDs(t, c, "sk", []any{"tenant-a", 7}); len(got) != 15 {
		t.Fatalf("search in both keys found %v", got)
	}
	// A fallback stands in for a target key that does not exist.
	if got := searchIDs(t, c, "sk", map[string]any{"target": "tenant-b", "fallback": 7}); !slices.Equal(got, idRange(101, 105)) {
		t.Fatalf("search with fallback found %v", got)
	}
	count := func(key any) int {
		body := map[string]any{"exact": true}
		if key != nil {
			body["shard_key"] = key
		}
		return int(num(t, obj(t, ok(t, c, "POST", "/collections/sk/points/count", body))["count"]))
	}
	if a, b, all := count("tenant-a"), count(7), count(nil); a != 10 || b != 5 || all != 15 {
		t.Fatalf("counts tenant-a %d, 7 %d, all %d; want 10, 5, 15", a, b, all)
	}
	// Retrieval by id reads the selected key only; without a key, all.
	if got := ids(t, ok(t, c, "POST", "/collections/sk/points", map[string]any{"ids": []int{1, 101}, "shard_key": 7})); got != "101" {
		t.Fatalf("retrieve in 7: %s", got)
	}
	if got := ids(t, ok(t, c, "POST", "/collections/sk/points", map[string]any{"ids": []int{1, 101}})); got != "1 101" {
		t.Fatalf("retrieve without a key: %s", got)
	}
	// Deletion by id without a key reaches every shard.
	ok(t, c, "POST", "/collections/sk/points/delete?wait=true", map[string]any{"points": []int{105}})
	if n := count(7); n != 4 {
		t.Fatalf("count in 7 after deleting 105: %d", n)
	}

	ok(t, c, "POST", "/collections/sk/shards/delete", map[string]any{"shard_key": "tenant-a"})
	if keys := shardKeys(t, c, "sk"); !slices.Equal(keys, []string{"7"}) {
		t.Fatalf("shard keys after delete %v, want [7]", keys)
	}
	if got := searchIDs(t, c, "sk", nil); !slices.Equal(got, idRange(101, 104)) {
		t.Fatalf("search after deleting tenant-a found %v", got)
	}
	fails(t, c, "POST", "/collections/sk/points/search", map[string]any{"vector": []float64{0, 0}, "limit": 1, "shard_key": "tenant-a"}, 400, "does not exist")
	fails(t, c, "POST", "/collections/sk/shards/delete", map[string]any{"shard_key": "tenant-a"}, 400, "does not exist")

	// The key can be created again: its shards are new and empty.
	ok(t, c, "PUT", "/collections/sk/shards", map[string]any{"shard_key": "tenant-a"})
	if n := count("tenant-a"); n != 0 {
		t.Fatalf("re-created key holds %d points", n)
	}

	// shard_key belongs to custom sharding only.
	ok(t, c, "PUT", "/collections/auto", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Euclid"}})
	fails(t, c, "PUT", "/collections/auto/points?wait=true", map[string]any{"points": keyedPoints(1, 1), "shard_key": "a"}, 400, "sharding_method is `auto`")
	fails(t, c, "PUT", "/collections/auto/shards", map[string]any{"shard_key": "a"}, 400, "sharding_method `custom`")
	fails(t, c, "POST", "/collections/auto/points/count", map[string]any{"shard_key": 1}, 400, "sharding_method is `auto`")
	if r := obj(t, ok(t, c, "GET", "/collections/auto/shards", nil)); r["shard_keys"] != nil {
		t.Fatalf("auto collection lists shard keys %v", r["shard_keys"])
	}
}
