package e2e

import (
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// testQueryVariants runs the query API's variants over collection f,
// which holds cityPoints(100) under Dot: point i is (i, 1).
func testQueryVariants(t *testing.T, c *harness.Cluster) {
	q := func(name string, body any, want string) {
		t.Helper()
		res := obj(t, ok(t, c, "POST", "/collections/f/points/query", body))
		if s := ids(t, res["points"]); s != want {
			t.Fatalf("%s: got %s, want %s", name, s, want)
		}
	}
	vec := func(x, y float64) []float64 { return []float64{x, y} }
	q("recommend", map[string]any{"query": map[string]any{"recommend": map[string]any{"positive": []any{100}, "negative": []any{1}}}, "limit": 3}, "99 98 97")
	q("recommend best_score", map[string]any{"query": map[string]any{"recommend": map[string]any{"positive": []any{vec(1, 0)}, "strategy": "best_score"}}, "limit": 2}, "100 99")
	two := []any{map[string]any{"query": vec(1, 0), "limit": 3}, map[string]any{"query": vec(-1, 0), "limit": 3}}
	q("rrf", map[string]any{"prefetch": two, "query": map[string]any{"fusion": "rrf"}}, "1 100 2 99 3 98")
	q("dbsf", map[string]any{"prefetch": two, "query": map[string]any{"fusion": "dbsf"}, "limit": 2}, "1 100")
	q("rescore a filtered prefetch", map[string]any{"prefetch": map[string]any{"query": vec(1, 0), "limit": 3, "filter": match("city", "Berlin")}, "query": vec(-1, 0)}, "90 95 100")
	q("order_by", map[string]any{"query": map[string]any{"order_by": map[string]any{"key": "n", "direction": "desc"}}, "limit": 2}, "100 99")
	sample := list(t, obj(t, ok(t, c, "POST", "/collections/f/points/query", map[string]any{"query": map[string]any{"sample": "random"}, "limit": 5}))["points"])
	if len(sample) != 5 {
		t.Fatalf("sample: %v", sample)
	}
	batch := list(t, ok(t, c, "POST", "/collections/f/points/query/batch", map[string]any{"searches": []any{
		map[string]any{"query": vec(1, 0), "limit": 1},
		map[string]any{"query": 50, "limit": 2, "filter": match("city", "Berlin")},
	}}))
	if len(batch) != 2 || ids(t, obj(t, batch[0])["points"]) != "100" || ids(t, obj(t, batch[1])["points"]) != "100 95" {
		t.Fatalf("query batch: %v", batch)
	}
	sb := list(t, ok(t, c, "POST", "/collections/f/points/search/batch", map[string]any{"searches": []any{
		map[string]any{"vector": vec(-1, 0), "limit": 2}, map[string]any{"vector": vec(1, 0), "limit": 1, "filter": match("city", "Oslo")},
	}}))
	if len(sb) != 2 || ids(t, sb[0]) != "1 2" || ids(t, sb[1]) != "99" {
		t.Fatalf("search batch: %v", sb)
	}
	if s := ids(t, ok(t, c, "POST", "/collections/f/points/recommend", map[string]any{"positive": []any{100}, "limit": 2})); s != "99 98" {
		t.Fatalf("legacy recommend: %s", s)
	}
	fails(t, c, "POST", "/collections/f/points/query", map[string]any{"query": map[string]any{"fusion": "rrf"}}, 400, "prefetch")

	// Groups, facets, search matrices.
	groups := list(t, obj(t, ok(t, c, "POST", "/collections/f/points/query/groups", map[string]any{"query": vec(1, 0), "group_by": "city", "group_size": 2, "limit": 2}))["groups"])
	if len(groups) != 2 || obj(t, groups[0])["id"] != "Berlin" || ids(t, obj(t, groups[0])["hits"]) != "100 95" || ids(t, obj(t, groups[1])["hits"]) != "99 94" {
		t.Fatalf("query groups: %v", groups)
	}
	sg := list(t, obj(t, ok(t, c, "POST", "/collections/f/points/search/groups", map[string]any{"vector": vec(-1, 0), "group_by": "n", "group_size": 1, "limit": 2}))["groups"])
	if len(sg) != 2 || num(t, obj(t, sg[1])["id"]) != 2 {
		t.Fatalf("search groups: %v", sg)
	}
	hits := list(t, obj(t, ok(t, c, "POST", "/collections/f/facet", map[string]any{"key": "city", "filter": map[string]any{"must": []any{map[string]any{"key": "n", "range": map[string]any{"lte": 12}}}}}))["hits"])
	if len(hits) != 5 || obj(t, hits[0])["value"] != "London" || num(t, obj(t, hits[0])["count"]) != 3 || num(t, obj(t, hits[4])["count"]) != 2 {
		t.Fatalf("facet: %v", hits)
	}
	pairs := list(t, obj(t, ok(t, c, "POST", "/collections/f/points/search/matrix/pairs", map[string]any{"sample": 5, "limit": 1}))["pairs"])
	if len(pairs) != 5 {
		t.Fatalf("matrix pairs: %v", pairs)
	}
	off := obj(t, ok(t, c, "POST", "/collections/f/points/search/matrix/offsets", map[string]any{"sample": 4, "limit": 2}))
	if len(list(t, off["ids"])) != 4 || len(list(t, off["offsets_row"])) != 8 || len(list(t, off["scores"])) != 8 {
		t.Fatalf("matrix offsets: %v", off)
	}
}
