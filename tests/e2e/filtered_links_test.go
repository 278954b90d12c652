package e2e

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// TestFilteredSearchThroughValueLinks drives the filter-aware links
// through REST: with an integer index created before the upload and a
// low full_scan_threshold, sealed segments link each value's points and a
// repeated filtered search walks them (DESIGN.md "Filter-aware links and
// filter caches"). Every hit must match, results must agree with an exact
// search of the same filter (recall ≥ 0.9 over repeats that use the
// cached matches), a range filter asked 200 times (so that the optimizer
// links its matches) must keep agreeing with exact search, and a point
// moved to another value by set_payload must be found under its new value
// only.
func TestFilteredSearchThroughValueLinks(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 1})
	ok(t, c, "PUT", "/collections/fl", map[string]any{
		"vectors":           map[string]any{"size": 16, "distance": "Euclid"},
		"hnsw_config":       map[string]any{"full_scan_threshold": 1},
		"optimizers_config": map[string]any{"indexing_threshold": 50, "default_segment_number": 1},
	})
	ok(t, c, "PUT", "/collections/fl/index?wait=true", map[string]any{"field_name": "c", "field_schema": "integer"})
	rng := rand.New(rand.NewPCG(4, 4))
	vec := func() []float64 {
		v := make([]float64, 16)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	vectors := map[int][]float64{}
	for start := 0; start < 3000; start += 500 {
		var pts []map[string]any
		for i := start; i < start+500; i++ {
			vectors[i] = vec()
			pts = append(pts, map[string]any{"id": i, "vector": vectors[i], "payload": map[string]any{"c": i % 5}})
		}
		ok(t, c, "PUT", "/collections/fl/points?wait=true", map[string]any{"points": pts})
	}
	eventually(t, "every point indexed", func() bool {
		info := obj(t, ok(t, c, "GET", "/collections/fl", nil))
		return num(t, info["indexed_vectors_count"]) >= 2900
	})
	search := func(q []float64, value int, exact bool) []float64 {
		t.Helper()
		res := list(t, ok(t, c, "POST", "/collections/fl/points/search", map[string]any{
			"vector": q, "limit": 10, "with_payload": true,
			"filter": map[string]any{"must": []any{map[string]any{"key": "c", "match": map[string]any{"value": value}}}},
			"params": map[string]any{"hnsw_ef": 64, "exact": exact},
		}))
		var out []float64
		for _, h := range res {
			p := obj(t, h)
			if got := num(t, obj(t, p["payload"])["c"]); got != float64(value) {
				t.Fatalf("c=%d: hit %v holds c=%v", value, p["id"], got)
			}
			out = append(out, num(t, p["id"]))
		}
		return out
	}
	found, total := 0, 0
	for i := range 20 {
		q := vec()
		want := search(q, i%5, true)
		for range 3 { // the second and third searches use the cached matches
			for _, id := range search(q, i%5, false) {
				if slices.Contains(want, id) {
					found++
				}
			}
			total += len(want)
		}
	}
	if r := float64(found) / float64(total); r < 0.9 {
		t.Fatalf("recall %.3f against exact search", r)
	}
	// A range filter asked often enough gets its matches linked by the
	// optimizer in the background; its answers stay right throughout.
	rangeSearch := func(q []float64, exact bool) []float64 {
		t.Helper()
		res := list(t, ok(t, c, "POST", "/collections/fl/points/search", map[string]any{
			"vector": q, "limit": 10, "with_payload": true,
			"filter": map[string]any{"must": []any{map[string]any{"key": "c", "range": map[string]any{"gte": 1, "lte": 2}}}},
			"params": map[string]any{"hnsw_ef": 64, "exact": exact},
		}))
		var out []float64
		for _, h := range res {
			p := obj(t, h)
			if v := num(t, obj(t, p["payload"])["c"]); v < 1 || v > 2 {
				t.Fatalf("range hit %v holds c=%v", p["id"], v)
			}
			out = append(out, num(t, p["id"]))
		}
		return out
	}
	found, total = 0, 0
	for range 100 {
		q := vec()
		want := rangeSearch(q, true)
		for _, id := range rangeSearch(q, false) {
			if slices.Contains(want, id) {
				found++
			}
		}
		total += len(want)
	}
	if r := float64(found) / float64(total); r < 0.9 {
		t.Fatalf("range filter recall %.3f against exact search", r)
	}
	// Point 7 (c=2) moves to c=3.
	for _, v := range []int{2, 3} {
		search(vectors[7], v, false)
	}
	ok(t, c, "POST", "/collections/fl/points/payload?wait=true", map[string]any{"payload": map[string]any{"c": 3}, "points": []int{7}})
	for range 3 {
		if got := search(vectors[7], 3, false); len(got) == 0 || got[0] != 7 {
			t.Fatalf("moved point not first under its new value: %v", got)
		}
		if got := search(vectors[7], 2, false); slices.Contains(got, 7) {
			t.Fatalf("moved point found under its old value: %v", got)
		}
	}
}
