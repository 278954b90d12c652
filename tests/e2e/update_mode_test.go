package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// genPoints returns points for ids with 2-dim vectors (x, 1) and payloads
// {"gen": gen, "odd": id is odd}.
func genPoints(gen string, x float64, ids ...int) []map[string]any {
	var pts []map[string]any
	for _, id := range ids {
		pts = append(pts, map[string]any{"id": id, "vector": []float64{x, 1}, "payload": map[string]any{"gen": gen, "odd": id%2 == 1}})
	}
	return pts
}

// gens returns, for ids 1..n, the "gen" payload and the vector's first
// coordinate ("-" for a missing point).
func gens(t *testing.T, c *harness.Cluster, coll string, n int) []string {
	t.Helper()
	var want []any
	for id := 1; id <= n; id++ {
		want = append(want, id)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = "-"
	}
	for _, p := range list(t, ok(t, c, "POST", "/collections/"+coll+"/points", map[string]any{"ids": want, "with_payload": true, "with_vector": true})) {
		pt := obj(t, p)
		id := int(num(t, pt["id"]))
		out[id-1] = fmt.Sprintf("%v/%v", obj(t, pt["payload"])["gen"], list(t, pt["vector"])[0])
	}
	return out
}

// TestRESTUpdateFilterAndMode: update_filter and update_mode of upserts
// (list and batch forms, and in batch updates) and update_filter of
// vector updates, over REST, on a replicated collection whose replicas
// must judge every condition alike.
func TestRESTUpdateFilterAndMode(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/u", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 2, "replication_factor": 3})
	ok(t, c, "PUT", "/collections/u/index?wait=true", map[string]any{"field_name": "gen", "field_schema": "keyword"})
	ok(t, c, "PUT", "/collections/u/points?wait=true", map[string]any{"points": genPoints("a", 1, 1, 2, 3, 4, 5, 6)})
	odd := match("odd", true)
	check := func(step string, want ...string) {
		t.Helper()
		if got := gens(t, c, "u", len(want)); !slices.Equal(got, want) {
			t.Fatalf("%s:\n got %q\nwant %q", step, got, want)
		}
	}

	// Existing points are replaced only when they match; new ones are
	// inserted regardless.
	ok(t, c, "PUT", "/collections/u/points?wait=true", map[string]any{"points": genPoints("b", 2, 1, 2, 7), "update_filter": odd})
	check("update_filter", "b/2", "a/1", "a/1", "a/1", "a/1", "a/1", "b/2")

	// insert_only (batch form) leaves existing points alone.
	ok(t, c, "PUT", "/collections/u/points?wait=true", map[string]any{
		"batch":       map[string]any{"ids": []any{3, 8}, "vectors": [][]float64{{3, 1}, {3, 1}}, "payloads": []any{map[string]any{"gen": "c"}, map[string]any{"gen": "c"}}},
		"update_mode": "insert_only",
	})
	check("insert_only", "b/2", "a/1", "a/1", "a/1", "a/1", "a/1", "b/2", "c/3")

	// update_only does not insert.
	ok(t, c, "PUT", "/collections/u/points?wait=true", map[string]any{"points": genPoints("d", 4, 4, 9), "update_mode": "update_only", "update_filter": nil})
	check("update_only", "b/2", "a/1", "a/1", "d/4", "a/1", "a/1", "b/2", "c/3", "-")
	if n := count(t, c, "u", nil); n != 8 {
		t.Fatalf("count after update_only: %v", n)
	}

	// The same in a batch update, with a filter on the indexed field.
	res := list(t, ok(t, c, "POST", "/collections/u/points/batch?wait=true", map[string]any{"operations": []any{
		map[string]any{"upsert": map[string]any{"points": genPoints("e", 5, 2, 3, 4, 10), "update_filter": match("gen", "a"), "update_mode": "update_only"}},
		map[string]any{"update_vectors": map[string]any{"points": []any{
			map[string]any{"id": 5, "vector": []float64{6, 6}},
			map[string]any{"id": 6, "vector": []float64{6, 6}},
		}, "update_filter": odd}},
	}}))
	if len(res) != 2 || obj(t, res[0])["status"] != "completed" {
		t.Fatalf("batch results: %v", res)
	}
	check("batch", "b/2", "e/5", "e/5", "d/4", "a/6", "a/1", "b/2", "c/3", "-", "-")

	// update_filter of a vector update: only matching points change.
	ok(t, c, "PUT", "/collections/u/points/vectors?wait=true", map[string]any{"points": []any{
		map[string]any{"id": 1, "vector": []float64{7, 7}},
		map[string]any{"id": 4, "vector": []float64{7, 7}},
	}, "update_filter": match("gen", "d")})
	check("update vectors", "b/2", "e/5", "e/5", "d/7", "a/6", "a/1", "b/2", "c/3")
	// A missing point is still an error.
	fails(t, c, "PUT", "/collections/u/points/vectors?wait=true", map[string]any{"points": []any{
		map[string]any{"id": 99, "vector": []float64{7, 7}},
	}, "update_filter": odd}, 404, "No point with id 99 found")

	// Bad input is a client error and writes nothing.
	fails(t, c, "PUT", "/collections/u/points?wait=true", map[string]any{"points": genPoints("x", 9, 1), "update_mode": "sometimes"}, 400, "update_mode")
	fails(t, c, "PUT", "/collections/u/points?wait=true", map[string]any{"points": genPoints("x", 9, 1), "update_filter": []any{1}}, 400, "update_filter")
	fails(t, c, "PUT", "/collections/u/points?wait=true", map[string]any{"points": genPoints("x", 9, 1),
		"update_filter": map[string]any{"must": []any{map[string]any{"key": "gen", "match": map[string]any{"nope": 1}}}}}, 400, "update_filter")
	fails(t, c, "PUT", "/collections/u/points/vectors?wait=true", map[string]any{"points": []any{map[string]any{"id": 1, "vector": []float64{9, 9}}},
		"update_filter": map[string]any{"should": 5}}, 400, "update_filter")
	check("after refused requests", "b/2", "e/5", "e/5", "d/7", "a/6", "a/1", "b/2", "c/3")

	// Every replica judged the conditions alike.
	waitDigests(t, c, "u", 3, 8)
}
