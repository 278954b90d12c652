package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// vectorNames returns the names of config.params.vectors of a collection,
// sorted, and the size of each.
func vectorNames(t *testing.T, c *harness.Cluster, collection string) map[string]float64 {
	t.Helper()
	info := obj(t, ok(t, c, "GET", "/collections/"+collection, nil))
	out := map[string]float64{}
	for name, p := range obj(t, obj(t, obj(t, info["config"])["params"])["vectors"]) {
		out[name] = num(t, obj(t, p)["size"])
	}
	return out
}

// pointVectorNames returns the names of the vectors point id holds.
func pointVectorNames(t *testing.T, c *harness.Cluster, collection string, id int) []string {
	t.Helper()
	p := obj(t, ok(t, c, "GET", fmt.Sprintf("/collections/%s/points/%d", collection, id), nil))
	var out []string
	for name := range obj(t, p["vector"]) {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// queryIDs runs a nearest query with the named vector and returns the
// sorted ids found.
func queryIDs(t *testing.T, c *harness.Cluster, collection, using string, q []float64) []int {
	t.Helper()
	res := obj(t, ok(t, c, "POST", "/collections/"+collection+"/points/query", map[string]any{"query": q, "using": using, "limit": 100}))
	var out []int
	for _, p := range list(t, res["points"]) {
		out = append(out, int(num(t, obj(t, p)["id"])))
	}
	slices.Sort(out)
	return out
}

// TestVectorNames adds a named vector to a replicated collection, writes
// and searches with it, deletes it, and checks that every replica of
// every shard ends with the same content each time, and the errors of
// wrong uses.
func TestVectorNames(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/v", map[string]any{
		"vectors": map[string]any{"a": map[string]any{"size": 2, "distance": "Dot"}}, "shard_number": 2, "replication_factor": 2,
	})
	var first []map[string]any
	for i := 1; i <= 20; i++ {
		first = append(first, map[string]any{"id": i, "vector": map[string]any{"a": []float64{float64(i), 1}}})
	}
	ok(t, c, "PUT", "/collections/v/points?wait=true", map[string]any{"points": first})
	// The name is unknown before it is created.
	fails(t, c, "POST", "/collections/v/points/query", map[string]any{"query": []float64{1, 0, 0}, "using": "b"}, 400, "Not existing vector name error: b")

	res := obj(t, ok(t, c, "PUT", "/collections/v/vectors/b?wait=true", map[string]any{"dense": map[string]any{"size": 3, "distance": "Cosine"}}))
	if res["status"] != "completed" {
		t.Fatalf("create vector name: %v", res)
	}
	if got := vectorNames(t, c, "v"); len(got) != 2 || got["a"] != 2 || got["b"] != 3 {
		t.Fatalf("vectors after the creation: %v", got)
	}
	// The same creation again is accepted; other parameters are not.
	ok(t, c, "PUT", "/collections/v/vectors/b?wait=true", map[string]any{"dense": map[string]any{"size": 3, "distance": "Cosine"}})
	fails(t, c, "PUT", "/collections/v/vectors/b", map[string]any{"dense": map[string]any{"size": 4, "distance": "Cosine"}}, 400, "already exists")

	var second []map[string]any
	for i := 21; i <= 30; i++ {
		second = append(second, map[string]any{"id": i, "vector": map[string]any{"a": []float64{float64(i), 1}, "b": []float64{1, float64(i), 0}}})
	}
	ok(t, c, "PUT", "/collections/v/points?wait=true", map[string]any{"points": second})
	if got := queryIDs(t, c, "v", "b", []float64{1, 1, 0}); !slices.Equal(got, idRange(21, 30)) {
		t.Fatalf("query using b found %v, want the points written with it", got)
	}
	if got := pointVectorNames(t, c, "v", 1); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("point 1 (written before the creation) has vectors %v", got)
	}
	if got := pointVectorNames(t, c, "v", 21); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("point 21 has vectors %v", got)
	}
	waitDigests(t, c, "v", 2, 30)

	ok(t, c, "DELETE", "/collections/v/vectors/b?wait=true", nil)
	if got := vectorNames(t, c, "v"); len(got) != 1 || got["a"] != 2 {
		t.Fatalf("vectors after the deletion: %v", got)
	}
	if got := pointVectorNames(t, c, "v", 21); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("point 21 after the deletion has vectors %v", got)
	}
	fails(t, c, "POST", "/collections/v/points/query", map[string]any{"query": []float64{1, 0, 0}, "using": "b"}, 400, "Not existing vector name error: b")
	fails(t, c, "PUT", "/collections/v/points?wait=true", map[string]any{"points": []any{map[string]any{"id": 40, "vector": map[string]any{"b": []float64{1, 2, 3}}}}}, 400, "b")
	waitDigests(t, c, "v", 2, 30)
	if got := queryIDs(t, c, "v", "a", []float64{1, 0}); len(got) != 30 {
		t.Fatalf("query using a found %d points, want 30", len(got))
	}

	// Errors.
	fails(t, c, "DELETE", "/collections/v/vectors/b", nil, 404, "does not exist")
	fails(t, c, "DELETE", "/collections/v/vectors/a", nil, 400, "last vector")
	fails(t, c, "PUT", "/collections/nope/vectors/b", map[string]any{"dense": map[string]any{"size": 3, "distance": "Dot"}}, 404, "doesn't exist")
	fails(t, c, "DELETE", "/collections/nope/vectors/b", nil, 404, "doesn't exist")
	fails(t, c, "PUT", "/collections/v/vectors/c", map[string]any{"sparse": map[string]any{}}, 400, "not supported")
	fails(t, c, "PUT", "/collections/v/vectors/c", map[string]any{"dense": map[string]any{"size": 3}}, 400, "missing field `distance`")
	fails(t, c, "PUT", "/collections/v/vectors/c", map[string]any{"dense": map[string]any{"size": 0, "distance": "Dot"}}, 422, "size")
	fails(t, c, "PUT", "/collections/v/vectors/c", map[string]any{}, 400, "dense")
	fails(t, c, "PUT", "/collections/v/vectors/c", `{"dense":`, 400, "Format error")

	// A collection with one unnamed vector takes no named vector.
	ok(t, c, "PUT", "/collections/single", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}})
	fails(t, c, "PUT", "/collections/single/vectors/b", map[string]any{"dense": map[string]any{"size": 3, "distance": "Dot"}}, 400, "single unnamed vector")
}

// TestVectorNamesCatchUp stops a follower's node, creates a vector name
// and writes with it, deletes the old one, and checks that the follower,
// back, catches up from the primary's log to the same content.
func TestVectorNamesCatchUp(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/cu", map[string]any{
		"vectors":      map[string]any{"a": map[string]any{"size": 2, "distance": "Dot"}, "old": map[string]any{"size": 2, "distance": "Dot"}},
		"shard_number": 1, "replication_factor": 3, "write_consistency_factor": 2,
	})
	var pts []map[string]any
	for i := 1; i <= 10; i++ {
		pts = append(pts, map[string]any{"id": i, "vector": map[string]any{"a": []float64{float64(i), 1}, "old": []float64{1, float64(i)}}})
	}
	ok(t, c, "PUT", "/collections/cu/points?wait=true", map[string]any{"points": pts})
	waitDigests(t, c, "cu", 3, 10)

	sh := shardZero(t, c, "cu")
	var follower uint64
	for _, r := range sh.GetReplicas() {
		if r.GetNodeId() != sh.GetPrimary() {
			follower = r.GetNodeId()
			break
		}
	}
	fi := storageIndex(t, c, follower)
	c.StopStorage(fi)
	ok(t, c, "PUT", "/collections/cu/vectors/b?wait=true", map[string]any{"dense": map[string]any{"size": 3, "distance": "Euclid"}})
	pts = nil
	for i := 11; i <= 20; i++ {
		pts = append(pts, map[string]any{"id": i, "vector": map[string]any{"a": []float64{float64(i), 1}, "b": []float64{float64(i), 0, 0}}})
	}
	ok(t, c, "PUT", "/collections/cu/points?wait=true", map[string]any{"points": pts})
	ok(t, c, "DELETE", "/collections/cu/vectors/old?wait=true", nil)

	c.StartStorage(fi)
	waitDigests(t, c, "cu", 3, 20)
	// Every replica answers with the new vector (consistency all reads
	// each one).
	res := obj(t, ok(t, c, "POST", "/collections/cu/points/query?consistency=all", map[string]any{"query": []float64{20, 0, 0}, "using": "b", "limit": 3}))
	if got := ids(t, res["points"]); got != "20 19 18" {
		t.Fatalf("query using b found %s", got)
	}
}
