package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

func TestRESTFailures(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/replicated", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "shard_number": 3, "replication_factor": 2})
	ok(t, c, "PUT", "/collections/single", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "shard_number": 3, "replication_factor": 1})
	ok(t, c, "PUT", "/collections/replicated/points?wait=true", map[string]any{"points": linePoints(30)})
	ok(t, c, "PUT", "/collections/single/points?wait=true", map[string]any{"points": linePoints(30)})

	c.StopStorage(0)
	// Every shard of "replicated" still has a reachable replica: reads go on.
	for i := 0; i < 6; i++ { // several rounds, so that every replica is tried
		if n := obj(t, ok(t, c, "POST", "/collections/replicated/points/count", map[string]any{}))["count"]; num(t, n) != 30 {
			t.Fatalf("count with a storage node down: %v", n)
		}
		if s := ids(t, ok(t, c, "POST", "/collections/replicated/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 3})); s != "3 4 2" {
			t.Fatalf("search with a storage node down: %s", s)
		}
		res := obj(t, ok(t, c, "POST", "/collections/replicated/points/scroll", map[string]any{"limit": 30}))
		if len(list(t, res["points"])) != 30 {
			t.Fatalf("scroll with a storage node down: %v", res)
		}
		if len(list(t, ok(t, c, "POST", "/collections/replicated/points", map[string]any{"ids": []any{1, 2, 3, 4, 5, 6}}))) != 6 {
			t.Fatal("retrieve with a storage node down")
		}
	}
	// "single" has shards whose only replica was on the stopped node.
	r := c.Do("POST", "/collections/single/points/count", map[string]any{})
	if r.Status != 503 || !strings.Contains(r.Error(), "No active replica for shard") {
		t.Fatalf("count of an unreplicated collection with a node down: %d %s", r.Status, r.Raw)
	}
	// A write to a shard with an unreachable replica answers 503 until that
	// replica is marked Dead; either way never a 5xx other than 503.
	r = c.Do("PUT", "/collections/replicated/points?wait=true", map[string]any{"points": linePoints(30)})
	if r.Status != 200 && r.Status != 503 {
		t.Fatalf("write with a storage node down: %d %s", r.Status, r.Raw)
	}
	if info := obj(t, ok(t, c, "GET", "/collections/single", nil)); info["status"] == "green" {
		t.Fatalf("collection info with an unreachable shard: %v", info)
	}

	c.StartStorage(0)
	eventually(t, "unreplicated collection readable after restart", func() bool {
		r := c.Do("POST", "/collections/single/points/count", map[string]any{})
		return r.Status == 200 && num(t, obj(t, r.Result())["count"]) == 30
	})
	eventually(t, "writes accepted after restart", func() bool {
		return c.Do("PUT", "/collections/replicated/points?wait=true", map[string]any{"points": linePoints(31)}).Status == 200
	})
	if s := ids(t, ok(t, c, "POST", "/collections/single/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 3})); s != "3 4 2" {
		t.Fatalf("search after restart: %s", s)
	}

	// Without meta the router keeps serving from its cached state; only
	// catalog changes and readiness need meta.
	c.StopMeta(0)
	if r := c.Do("GET", "/readyz", nil); r.Status != 503 {
		t.Fatalf("readyz with meta down: %d", r.Status)
	}
	if r := c.Do("GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("healthz with meta down: %d", r.Status)
	}
	if s := ids(t, ok(t, c, "POST", "/collections/replicated/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 3})); s != "3 4 2" {
		t.Fatalf("search with meta down: %s", s)
	}
	// Writes stop once the storage nodes can no longer confirm their
	// leases (two thirds of the lease TTL after meta went away): a primary
	// cut off from meta may have been failed over, so it coordinates no
	// write (503, never 500). Reads go on.
	eventually(t, "writes refused without meta", func() bool {
		r := c.Do("PUT", "/collections/replicated/points?wait=true", map[string]any{"points": []any{map[string]any{"id": 100, "vector": []float64{100, 0}}}})
		if r.Status != 200 && r.Status != 503 {
			t.Fatalf("write with meta down: %d %s", r.Status, r.Raw)
		}
		return r.Status == 503 && strings.Contains(r.Error(), "lease")
	})
	if s := ids(t, ok(t, c, "POST", "/collections/replicated/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 3})); s != "3 4 2" {
		t.Fatalf("search with meta down, after writes were refused: %s", s)
	}
	st := obj(t, ok(t, c, "GET", "/cluster", nil))
	if th := obj(t, st["consensus_thread_status"]); th["consensus_thread_status"] != "stopped_with_err" {
		t.Fatalf("cluster status with meta down: %v", st)
	}
	r = c.Do("PUT", "/collections/new", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}})
	if r.Status != 503 && r.Status != 408 {
		t.Fatalf("create with meta down: %d %s", r.Status, r.Raw)
	}
	var check map[string]any
	_ = json.Unmarshal(r.Raw, &check)
	if obj(t, check["status"])["error"] == "" {
		t.Fatalf("create with meta down: no error message: %s", r.Raw)
	}
}
