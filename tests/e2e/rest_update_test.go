package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// cityPoints returns n points with 2-dim vectors (i, 1) and payloads
// {"city": …, "n": i, "even": …} for ids 1..n.
func cityPoints(n int) []map[string]any {
	var pts []map[string]any
	for i := 1; i <= n; i++ {
		pts = append(pts, map[string]any{"id": i, "vector": []float64{float64(i), 1},
			"payload": map[string]any{"city": cities[i%len(cities)], "n": i, "even": i%2 == 0}})
	}
	return pts
}

func match(key string, value any) map[string]any {
	return map[string]any{"must": []any{map[string]any{"key": key, "match": map[string]any{"value": value}}}}
}

func count(t *testing.T, c *harness.Cluster, coll string, filter any) float64 {
	t.Helper()
	body := map[string]any{}
	if filter != nil {
		body["filter"] = filter
	}
	return num(t, obj(t, ok(t, c, "POST", "/collections/"+coll+"/points/count", body))["count"])
}

// TestRESTPayloadAndFilters covers filters in every read, payload and
// vector updates, deletion by filter, batch updates, payload indexes and
// ordered scrolls over REST.
func TestRESTPayloadAndFilters(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/f", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 3, "replication_factor": 2})
	ok(t, c, "PUT", "/collections/f/index?wait=true", map[string]any{"field_name": "city", "field_schema": "keyword"})
	ok(t, c, "PUT", "/collections/f/index?wait=true", map[string]any{"field_name": "n", "field_schema": map[string]any{"type": "integer", "range": true}})
	ok(t, c, "PUT", "/collections/f/points?wait=true", map[string]any{"points": cityPoints(100)})

	if n := count(t, c, "f", match("city", "Berlin")); n != 20 {
		t.Fatalf("count Berlin: %v", n)
	}
	t.Run("QueryVariants", func(t *testing.T) { testQueryVariants(t, c) })
	info := obj(t, ok(t, c, "GET", "/collections/f", nil))
	schema := obj(t, info["payload_schema"])
	if obj(t, schema["city"])["data_type"] != "keyword" || num(t, obj(t, schema["city"])["points"]) != 100 || obj(t, schema["n"])["data_type"] != "integer" || num(t, info["points_count"]) != 100 {
		t.Fatalf("collection info: %v", info)
	}
	// Search, query and scroll with a filter.
	hits := ok(t, c, "POST", "/collections/f/points/search", map[string]any{"vector": []float64{1, 0}, "limit": 3, "filter": match("city", "Paris"), "with_payload": true})
	if s := ids(t, hits); s != "97 92 87" {
		t.Fatalf("search with filter: %s", s)
	}
	q := obj(t, ok(t, c, "POST", "/collections/f/points/query", map[string]any{"query": []float64{1, 0}, "limit": 2, "filter": map[string]any{
		"must": []any{map[string]any{"key": "n", "range": map[string]any{"lt": 50}}}, "must_not": []any{match("even", true)}}}))
	if s := ids(t, q["points"]); s != "49 47" {
		t.Fatalf("query with filter: %s", s)
	}
	page := obj(t, ok(t, c, "POST", "/collections/f/points/scroll", map[string]any{"filter": match("city", "Rome"), "limit": 3}))
	if s := ids(t, page["points"]); s != "3 8 13" || num(t, page["next_page_offset"]) != 18 {
		t.Fatalf("scroll with filter: %s next %v", s, page["next_page_offset"])
	}
	ordered := obj(t, ok(t, c, "POST", "/collections/f/points/scroll", map[string]any{"order_by": map[string]any{"key": "n", "direction": "desc", "start_from": 50}, "limit": 3}))
	pts := list(t, ordered["points"])
	if s := ids(t, pts); s != "50 49 48" || num(t, obj(t, pts[0])["order_value"]) != 50 || ordered["next_page_offset"] != nil {
		t.Fatalf("scroll with order_by: %v", ordered)
	}

	// Payload updates by ids and by filter.
	ok(t, c, "POST", "/collections/f/points/payload?wait=true", map[string]any{"payload": map[string]any{"flag": "x"}, "filter": match("city", "Oslo")})
	if n := count(t, c, "f", match("flag", "x")); n != 20 {
		t.Fatalf("count after set payload: %v", n)
	}
	ok(t, c, "POST", "/collections/f/points/payload/delete?wait=true", map[string]any{"keys": []string{"flag"}, "points": []any{4, 9}})
	ok(t, c, "PUT", "/collections/f/points/payload?wait=true", map[string]any{"payload": map[string]any{"only": true}, "points": []any{1}})
	ok(t, c, "POST", "/collections/f/points/payload/clear?wait=true", map[string]any{"points": []any{2}})
	got := list(t, ok(t, c, "POST", "/collections/f/points", map[string]any{"ids": []any{1, 2, 4, 14}}))
	if fmt.Sprint(obj(t, got[0])["payload"]) != "map[only:true]" || len(obj(t, obj(t, got[1])["payload"])) != 0 ||
		obj(t, obj(t, got[2])["payload"])["flag"] != nil || obj(t, obj(t, got[3])["payload"])["flag"] != "x" {
		t.Fatalf("payloads after updates: %v", got)
	}
	// Vectors.
	ok(t, c, "PUT", "/collections/f/points/vectors?wait=true", map[string]any{"points": []any{map[string]any{"id": 3, "vector": []float64{500, 0}}}})
	if s := ids(t, ok(t, c, "POST", "/collections/f/points/search", map[string]any{"vector": []float64{1, 0}, "limit": 1})); s != "3" {
		t.Fatalf("search after update vectors: %s", s)
	}
	// Deletion by filter (point 2 lost its payload above, so it stays) and
	// a batch.
	ok(t, c, "POST", "/collections/f/points/delete?wait=true", map[string]any{"filter": match("even", true)})
	if n := count(t, c, "f", nil); n != 51 {
		t.Fatalf("count after delete by filter: %v", n)
	}
	res := list(t, ok(t, c, "POST", "/collections/f/points/batch?wait=true", map[string]any{"operations": []any{
		map[string]any{"upsert": map[string]any{"points": []any{map[string]any{"id": 1000, "vector": []float64{1, 1}, "payload": map[string]any{"n": 1000}}}}},
		map[string]any{"set_payload": map[string]any{"payload": map[string]any{"batch": 1}, "points": []any{1000, 1}}},
		map[string]any{"delete": map[string]any{"points": []any{5}}},
	}}))
	if len(res) != 3 || obj(t, res[2])["status"] != "completed" {
		t.Fatalf("batch: %v", res)
	}
	if n := count(t, c, "f", match("batch", 1)); n != 2 {
		t.Fatalf("count after batch: %v", n)
	}
	ok(t, c, "DELETE", "/collections/f/index/city?wait=true", nil)
	if schema := obj(t, obj(t, ok(t, c, "GET", "/collections/f", nil))["payload_schema"]); schema["city"] != nil || schema["n"] == nil {
		t.Fatalf("payload_schema after index delete: %v", schema)
	}
	fails(t, c, "POST", "/collections/f/points/count", map[string]any{"filter": map[string]any{"must": []any{map[string]any{"key": "n", "nonsense": 1}}}}, 400, "")
	fails(t, c, "PUT", "/collections/f/index", map[string]any{"field_name": "x", "field_schema": "vector"}, 400, "unknown variant")
}

// TestRESTAliasesAndUpdates covers aliases and collection updates.
func TestRESTAliasesAndUpdates(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 2})
	for _, name := range []string{"v1", "v2"} {
		ok(t, c, "PUT", "/collections/"+name, map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}})
	}
	ok(t, c, "PUT", "/collections/v1/points?wait=true", map[string]any{"points": linePoints(5)})
	ok(t, c, "POST", "/collections/aliases", map[string]any{"actions": []any{map[string]any{"create_alias": map[string]any{"collection_name": "v1", "alias_name": "prod"}}}})
	if n := count(t, c, "prod", nil); n != 5 {
		t.Fatalf("count through the alias: %v", n)
	}
	if s := ids(t, ok(t, c, "POST", "/collections/prod/points/search", map[string]any{"vector": []float64{1, 0}, "limit": 1})); s != "5" {
		t.Fatalf("search through the alias: %s", s)
	}
	if ex := obj(t, ok(t, c, "GET", "/collections/prod/exists", nil)); ex["exists"] != true {
		t.Fatalf("exists through the alias: %v", ex)
	}
	// Switch atomically to v2.
	ok(t, c, "POST", "/collections/aliases", map[string]any{"actions": []any{
		map[string]any{"delete_alias": map[string]any{"alias_name": "prod"}},
		map[string]any{"create_alias": map[string]any{"collection_name": "v2", "alias_name": "prod"}},
		map[string]any{"create_alias": map[string]any{"collection_name": "v1", "alias_name": "old"}},
	}})
	if n := count(t, c, "prod", nil); n != 0 {
		t.Fatalf("count after the switch: %v", n)
	}
	all := list(t, obj(t, ok(t, c, "GET", "/aliases", nil))["aliases"])
	if len(all) != 2 || obj(t, all[0])["alias_name"] != "old" || obj(t, all[1])["collection_name"] != "v2" {
		t.Fatalf("aliases: %v", all)
	}
	ok(t, c, "POST", "/collections/aliases", map[string]any{"actions": []any{map[string]any{"rename_alias": map[string]any{"old_alias_name": "old", "new_alias_name": "previous"}}}})
	if got := list(t, obj(t, ok(t, c, "GET", "/collections/v1/aliases", nil))["aliases"]); len(got) != 1 || obj(t, got[0])["alias_name"] != "previous" {
		t.Fatalf("aliases of v1: %v", got)
	}
	fails(t, c, "POST", "/collections/aliases", map[string]any{"actions": []any{map[string]any{"create_alias": map[string]any{"collection_name": "missing", "alias_name": "x"}}}}, 404, "doesn't exist")
	fails(t, c, "POST", "/collections/aliases", map[string]any{"actions": []any{map[string]any{"create_alias": map[string]any{"collection_name": "v1", "alias_name": "v2"}}}}, 409, "already exists")
	fails(t, c, "PUT", "/collections/prod", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}, 400, "Alias with the same name already exists")
	// Deleting a collection deletes its aliases.
	ok(t, c, "DELETE", "/collections/v1", nil)
	if got := list(t, obj(t, ok(t, c, "GET", "/aliases", nil))["aliases"]); len(got) != 1 || obj(t, got[0])["alias_name"] != "prod" {
		t.Fatalf("aliases after deleting v1: %v", got)
	}

	// PATCH stores parameters that collection info then shows.
	ok(t, c, "PATCH", "/collections/v2", map[string]any{
		"optimizers_config": map[string]any{"indexing_threshold": 2000, "deleted_threshold": 0.5},
		"hnsw_config":       map[string]any{"m": 24, "ef_construct": 200},
		"params":            map[string]any{"replication_factor": 2, "write_consistency_factor": 2},
		"metadata":          map[string]any{"owner": "search-team"},
	})
	cfg := obj(t, obj(t, ok(t, c, "GET", "/collections/prod", nil))["config"])
	opt, hnsw, params := obj(t, cfg["optimizer_config"]), obj(t, cfg["hnsw_config"]), obj(t, cfg["params"])
	if num(t, opt["indexing_threshold"]) != 2000 || num(t, opt["deleted_threshold"]) != 0.5 || num(t, hnsw["m"]) != 24 || num(t, hnsw["ef_construct"]) != 200 ||
		num(t, params["replication_factor"]) != 2 || num(t, params["write_consistency_factor"]) != 2 || obj(t, cfg["metadata"])["owner"] != "search-team" {
		t.Fatalf("config after PATCH: %v", cfg)
	}
	fails(t, c, "PATCH", "/collections/v2", map[string]any{"hnsw_config": map[string]any{"ef_construct": 1}}, 422, "ef_construct")
	fails(t, c, "PATCH", "/collections/v2", map[string]any{"params": map[string]any{"write_consistency_factor": 3}}, 400, "write_consistency_factor")
	fails(t, c, "PATCH", "/collections/v2", `{"optimizers_config": 5}`, 400, "Format error")
	fails(t, c, "PATCH", "/collections/missing", map[string]any{}, 404, "doesn't exist")
	if strings.Contains(fmt.Sprint(cfg), "vector_options") {
		t.Fatalf("internal keys leak into the config: %v", cfg)
	}
}
