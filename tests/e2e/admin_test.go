package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// issueIDs returns GET /issues' ids, checking each issue's fields.
func issueIDs(t *testing.T, c *harness.Cluster) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, v := range list(t, obj(t, ok(t, c, "GET", "/issues", nil))["issues"]) {
		is := obj(t, v)
		id, _ := is["id"].(string)
		if id == "" || is["description"] == "" || is["timestamp"] == "" {
			t.Fatalf("incomplete issue %v", is)
		}
		out[id] = is
	}
	return out
}

// TestIssuesReport drives the issues report through the conditions a
// cluster of three storage nodes can show: a replication factor above the
// node count, then a storage node that stops; clearing hides the present
// issues but not new ones.
func TestIssuesReport(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	eventually(t, "no issues on a fresh cluster", func() bool {
		return len(issueIDs(t, c)) == 0
	})

	ok(t, c, "PUT", "/collections/wide", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 1, "replication_factor": 4})
	got := issueIDs(t, c)
	for _, id := range []string{"REPLICATION_FACTOR_EXCEEDS_NODES/wide", "UNDER_REPLICATED/wide/0"} {
		is, found := got[id]
		if !found {
			t.Fatalf("missing %s in %v", id, got)
		}
		if is["related_collection"] != "wide" || obj(t, is["solution"])["refactor"] == "" {
			t.Fatalf("issue %v", is)
		}
	}
	if len(got) != 2 {
		t.Fatalf("unexpected issues: %v", got)
	}

	if res := ok(t, c, "DELETE", "/issues", nil); res != true {
		t.Fatalf("DELETE /issues: %v", res)
	}
	if got := issueIDs(t, c); len(got) != 0 {
		t.Fatalf("after clear: %v", got)
	}

	// A node holding a replica of a healthy collection stops: the new
	// conditions are reported, the cleared ones stay hidden.
	ok(t, c, "PUT", "/collections/pair", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 1, "replication_factor": 2})
	sh := shardZero(t, c, "pair")
	node := sh.GetReplicas()[0].GetNodeId()
	c.StopStorage(storageIndex(t, c, node))
	want := fmt.Sprintf("REPLICA_ON_UNREGISTERED_NODE/pair/0/%d", node)
	eventually(t, want, func() bool {
		_, found := issueIDs(t, c)[want]
		return found
	})
	for id := range issueIDs(t, c) {
		if id == "REPLICATION_FACTOR_EXCEEDS_NODES/wide" || id == "UNDER_REPLICATED/wide/0" {
			t.Fatalf("cleared issue %s reported again while it lasted", id)
		}
		byNode := strings.HasSuffix(id, fmt.Sprintf("/0/%d", node)) || strings.HasPrefix(id, "NO_ACTIVE_REPLICA/") || id == "UNDER_REPLICATED/pair/0"
		if !byNode {
			t.Fatalf("issue %s not caused by node %d", id, node)
		}
	}
}

// TestOptimizationsProgress indexes points past a small indexing
// threshold and follows the storage nodes' optimizers through the
// router's report until every shard is idle.
func TestOptimizationsProgress(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/opt", map[string]any{
		"vectors":           map[string]any{"size": 4, "distance": "Euclid"},
		"shard_number":      2,
		"optimizers_config": map[string]any{"indexing_threshold": 1},
	})
	var pts []map[string]any
	for i := 1; i <= 400; i++ {
		pts = append(pts, map[string]any{"id": i, "vector": []float64{float64(i), float64(i % 7), float64(i % 13), 1}})
	}
	ok(t, c, "PUT", "/collections/opt/points?wait=true", map[string]any{"points": pts})

	var res map[string]any
	eventually(t, "optimizers idle after indexing", func() bool {
		res = obj(t, ok(t, c, "GET", "/collections/opt/optimizations?with=completed,idle_segments,queued", nil))
		sum := obj(t, res["summary"])
		return len(list(t, res["running"])) == 0 && num(t, sum["queued_optimizations"]) == 0 && len(list(t, res["completed"])) > 0
	})
	indexed := 0.0
	for _, v := range list(t, res["completed"]) {
		op := obj(t, v)
		progress := obj(t, op["progress"])
		if op["status"] != "done" || progress["done"] != progress["total"] || progress["finished_at"] == nil {
			t.Fatalf("completed optimization %v", op)
		}
		if op["optimizer"] == "indexing" {
			indexed += num(t, progress["total"])
		}
	}
	if indexed == 0 {
		t.Fatalf("no indexing optimization in %v", res["completed"])
	}
	idle := list(t, res["idle_segments"])
	points := 0.0
	for _, v := range idle {
		points += num(t, obj(t, v)["points_count"])
	}
	if points != 400 || num(t, obj(t, res["summary"])["idle_segments"]) != float64(len(idle)) || len(idle) < 3 {
		t.Fatalf("idle segments hold %v points: %v", points, idle)
	}
	if got := list(t, obj(t, ok(t, c, "GET", "/collections/opt/optimizations?with=completed&completed_limit=1", nil))["completed"]); len(got) != 1 {
		t.Fatalf("completed_limit=1: %v", got)
	}
	fails(t, c, "GET", "/collections/opt/optimizations?with=nothing", nil, 400, "with")
	fails(t, c, "GET", "/collections/missing/optimizations", nil, 404, "doesn't exist")
}
