package e2e

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/tests/harness"
)

// lookup_from (examples given as point ids of another collection, with a
// named vector) and with_lookup (groups joined with the points of another
// collection) through REST and the official Go client.
//
// lk_items: 20 points, point i at angle 0.3·i, payload owner = i % 5.
// lk_users: named vectors pref (2-dim) and wide (3-dim); user 1 prefers
// (1, 0), 2 (0, 1), 3 (−1, 0).
// lk_owners: a default 2-dim vector; owners 0–3 exist (4 does not), with
// a name.
func TestLookupFromAndWithLookup(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 2})
	c.MustOK("PUT", "/collections/lk_items", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 2})
	c.MustOK("PUT", "/collections/lk_users", map[string]any{"vectors": map[string]any{
		"pref": map[string]any{"size": 2, "distance": "Dot"}, "wide": map[string]any{"size": 3, "distance": "Dot"}}})
	c.MustOK("PUT", "/collections/lk_owners", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}})
	var items []map[string]any
	for i := 1; i <= 20; i++ {
		a := 0.3 * float64(i)
		items = append(items, map[string]any{"id": i, "vector": []float64{math.Cos(a), math.Sin(a)}, "payload": map[string]any{"owner": i % 5}})
	}
	c.MustOK("PUT", "/collections/lk_items/points?wait=true", map[string]any{"points": items})
	prefs := map[int][]float64{1: {1, 0}, 2: {0, 1}, 3: {-1, 0}}
	var users []map[string]any
	for id, p := range prefs {
		users = append(users, map[string]any{"id": id, "vector": map[string]any{"pref": p, "wide": []float64{0, 0, 1}}})
	}
	c.MustOK("PUT", "/collections/lk_users/points?wait=true", map[string]any{"points": users})
	var owners []map[string]any
	for i := 0; i < 4; i++ {
		owners = append(owners, map[string]any{"id": i, "vector": []float64{float64(i), 1}, "payload": map[string]any{"name": fmt.Sprint("owner ", i)}})
	}
	c.MustOK("PUT", "/collections/lk_owners/points?wait=true", map[string]any{"points": owners})

	users1 := map[string]any{"collection": "lk_users", "vector": "pref"}
	query := func(body map[string]any) string {
		t.Helper()
		return fmt.Sprint(restHits(t, obj(t, ok(t, c, "POST", "/collections/lk_items/points/query", body))["points"]))
	}
	same := func(what string, got, want string) {
		t.Helper()
		if got != want || want == "[]" {
			t.Fatalf("%s:\n got  %s\n want %s", what, got, want)
		}
	}

	// Examples by id from another collection equal the same examples given
	// as vectors; the ids are not left out (they name other points).
	same("nearest", query(map[string]any{"query": 1, "lookup_from": users1, "limit": 5}),
		query(map[string]any{"query": prefs[1], "limit": 5}))
	same("recommend", query(map[string]any{"query": map[string]any{"recommend": map[string]any{"positive": []any{2}, "negative": []any{3}}}, "lookup_from": users1, "limit": 4}),
		query(map[string]any{"query": map[string]any{"recommend": map[string]any{"positive": []any{prefs[2]}, "negative": []any{prefs[3]}}}, "limit": 4}))
	discover := func(t1, p, n any, lookup bool) map[string]any {
		b := map[string]any{"query": map[string]any{"discover": map[string]any{"target": t1, "context": map[string]any{"positive": p, "negative": n}}}, "limit": 6}
		if lookup {
			b["lookup_from"] = users1
		}
		return b
	}
	same("discover", query(discover(1, 2, 3, true)), query(discover(prefs[1], prefs[2], prefs[3], false)))
	same("prefetch", query(map[string]any{"prefetch": map[string]any{"query": 2, "lookup_from": users1, "limit": 5}, "query": []float64{1, 0}, "limit": 3}),
		query(map[string]any{"prefetch": map[string]any{"query": prefs[2], "limit": 5}, "query": []float64{1, 0}, "limit": 3}))
	same("default vector", query(map[string]any{"query": 2, "lookup_from": map[string]any{"collection": "lk_owners"}, "limit": 3}),
		query(map[string]any{"query": []float64{2, 1}, "limit": 3}))
	legacyRec := restHits(t, ok(t, c, "POST", "/collections/lk_items/points/recommend", map[string]any{"positive": []any{1}, "lookup_from": users1, "limit": 3}))
	same("legacy recommend", fmt.Sprint(legacyRec), query(map[string]any{"query": map[string]any{"recommend": map[string]any{"positive": []any{prefs[1]}}}, "limit": 3}))
	legacyDisc := restHits(t, ok(t, c, "POST", "/collections/lk_items/points/discover", map[string]any{
		"target": 1, "context": []any{map[string]any{"positive": 2, "negative": 3}}, "lookup_from": users1, "limit": 6}))
	same("legacy discover", fmt.Sprint(legacyDisc), query(discover(prefs[1], prefs[2], prefs[3], false)))
	// Within the same collection the example points stay out.
	if got := query(map[string]any{"query": 5, "lookup_from": map[string]any{"collection": "lk_items"}, "limit": 2}); got != query(map[string]any{"query": 5, "limit": 2}) {
		t.Fatalf("lookup from the same collection: %s", got)
	}

	fails(t, c, "POST", "/collections/lk_items/points/query", map[string]any{"query": 1, "lookup_from": map[string]any{"collection": "lk_users", "vector": "wide"}}, 400, "dimension")
	fails(t, c, "POST", "/collections/lk_items/points/query", map[string]any{"query": 1, "lookup_from": map[string]any{"collection": "lk_users"}}, 400, "Not existing vector name")
	fails(t, c, "POST", "/collections/lk_items/points/query", map[string]any{"query": 1, "lookup_from": map[string]any{"collection": "nope"}}, 404, "nope")
	fails(t, c, "POST", "/collections/lk_items/points/query", map[string]any{"query": 9, "lookup_from": users1}, 404, "9")

	// with_lookup: group ids are owner ids; owner 4 does not exist.
	checkGroups := func(what string, groups []any, withVector bool) {
		t.Helper()
		if len(groups) == 0 {
			t.Fatalf("%s: no groups", what)
		}
		for _, g := range groups {
			gm := obj(t, g)
			id := num(t, gm["id"])
			lk, has := gm["lookup"]
			if id == 4 {
				if has && lk != nil {
					t.Fatalf("%s: group 4 has a lookup %v", what, lk)
				}
				continue
			}
			rec := obj(t, lk)
			if num(t, rec["id"]) != id || (!withVector && obj(t, rec["payload"])["name"] != fmt.Sprint("owner ", id)) {
				t.Fatalf("%s: group %v looked up %v", what, id, rec)
			}
			if withVector && (rec["payload"] != nil || len(list(t, rec["vector"])) != 2) {
				t.Fatalf("%s: group %v: want the vector without payload: %v", what, id, rec)
			}
		}
	}
	groups := list(t, obj(t, ok(t, c, "POST", "/collections/lk_items/points/query/groups", map[string]any{
		"query": []float64{1, 0}, "group_by": "owner", "group_size": 2, "limit": 5, "with_lookup": "lk_owners"}))["groups"])
	if len(groups) != 5 {
		t.Fatalf("query groups: %v", groups)
	}
	checkGroups("query groups", groups, false)
	checkGroups("search groups", list(t, obj(t, ok(t, c, "POST", "/collections/lk_items/points/search/groups", map[string]any{
		"vector": []float64{0, 1}, "group_by": "owner", "group_size": 1, "limit": 5,
		"with_lookup": map[string]any{"collection": "lk_owners", "with_payload": false, "with_vectors": true}}))["groups"]), true)
	checkGroups("recommend groups", list(t, obj(t, ok(t, c, "POST", "/collections/lk_items/points/recommend/groups", map[string]any{
		"positive": []any{1}, "lookup_from": users1, "group_by": "owner", "group_size": 1, "limit": 5,
		"with_lookup": map[string]any{"collection": "lk_owners"}}))["groups"]), false)

	// The same through the official Go client.
	cl := newGRPCClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lookup := &qdrant.LookupLocation{CollectionName: "lk_users", VectorName: qdrant.PtrOf("pref")}
	got, err := cl.Query(ctx, &qdrant.QueryPoints{CollectionName: "lk_items", Limit: qdrant.PtrOf(uint64(6)), LookupFrom: lookup,
		Query: qdrant.NewQueryDiscover(&qdrant.DiscoverInput{Target: qdrant.NewVectorInputID(qdrant.NewIDNum(1)), Context: &qdrant.ContextInput{
			Pairs: []*qdrant.ContextInputPair{{Positive: qdrant.NewVectorInputID(qdrant.NewIDNum(2)), Negative: qdrant.NewVectorInputID(qdrant.NewIDNum(3))}}}})})
	if err != nil {
		t.Fatalf("gRPC query with lookup_from: %v", err)
	}
	same("gRPC query", fmt.Sprint(roundHits(grpcHits(got))), fmt.Sprint(roundHits(restHitsOf(t, c, discover(prefs[1], prefs[2], prefs[3], false)))))
	rec, err := cl.GetPointsClient().Recommend(ctx, &qdrant.RecommendPoints{CollectionName: "lk_items", Positive: []*qdrant.PointId{qdrant.NewIDNum(1)}, LookupFrom: lookup, Limit: 3})
	if err != nil {
		t.Fatalf("gRPC recommend with lookup_from: %v", err)
	}
	same("gRPC recommend", fmt.Sprint(roundHits(grpcHits(rec.GetResult()))), fmt.Sprint(roundHits(legacyRec)))
	disc, err := cl.GetPointsClient().Discover(ctx, &qdrant.DiscoverPoints{CollectionName: "lk_items", Target: qdrant.NewTargetID(qdrant.NewIDNum(1)), LookupFrom: lookup, Limit: 6,
		Context: []*qdrant.ContextExamplePair{{Positive: example{id: 2}.legacy(), Negative: example{id: 3}.legacy()}}})
	if err != nil {
		t.Fatalf("gRPC discover with lookup_from: %v", err)
	}
	same("gRPC discover", fmt.Sprint(roundHits(grpcHits(disc.GetResult()))), fmt.Sprint(roundHits(legacyDisc)))
	gg, err := cl.QueryGroups(ctx, &qdrant.QueryPointGroups{CollectionName: "lk_items", Query: qdrant.NewQueryDense([]float32{1, 0}), GroupBy: "owner",
		GroupSize: qdrant.PtrOf(uint64(2)), Limit: qdrant.PtrOf(uint64(5)), WithLookup: &qdrant.WithLookup{Collection: "lk_owners"}})
	if err != nil || len(gg) != 5 {
		t.Fatalf("gRPC query groups with with_lookup: %v %v", gg, err)
	}
	for _, g := range gg {
		id := g.GetId().GetIntegerValue()
		if lk := g.GetLookup(); (id == 4) != (lk == nil) || (lk != nil && (lk.GetId().GetNum() != uint64(id) || lk.GetPayload()["name"].GetStringValue() != fmt.Sprint("owner ", id))) {
			t.Fatalf("gRPC group %d looked up %v", id, g.GetLookup())
		}
	}
	if _, err := cl.Query(ctx, &qdrant.QueryPoints{CollectionName: "lk_items", Query: qdrant.NewQueryID(qdrant.NewIDNum(1)),
		LookupFrom: &qdrant.LookupLocation{CollectionName: "lk_users", VectorName: qdrant.PtrOf("wide")}}); err == nil {
		t.Fatal("gRPC lookup of a vector of the wrong dimension succeeded")
	}
}

// restHitsOf runs a REST query on lk_items.
func restHitsOf(t *testing.T, c *harness.Cluster, body map[string]any) []hit {
	t.Helper()
	return restHits(t, obj(t, ok(t, c, "POST", "/collections/lk_items/points/query", body))["points"])
}

// roundHits rounds scores to float32 precision, for comparing REST and
// gRPC results.
func roundHits(hs []hit) []hit {
	out := make([]hit, len(hs))
	for i, h := range hs {
		out[i] = hit{h.id, math.Round(h.score*1e5) / 1e5}
	}
	return out
}
