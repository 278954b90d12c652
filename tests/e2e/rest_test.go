// Package e2e drives a whole in-process Shoal cluster (tests/harness)
// through the router's Qdrant REST API with plain net/http and
// encoding/json, and through its gRPC API with the official Go client, the
// way Qdrant clients do. Every REST response is checked against the
// OpenAPI contract (see main_test.go).
package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/tests/harness"
)

// --- tests -----------------------------------------------------------------

// TestREST covers every endpoint and its error cases on one cluster.
func TestREST(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3, Configure: func(tier string, _ int, cfg *config.Config) {
		if tier == "router" {
			cfg.Service.MaxRequestSizeMB = 1
		}
	}})
	t.Run("Service", func(t *testing.T) { testService(t, c) })
	t.Run("Collections", func(t *testing.T) { testCollections(t, c) })
	t.Run("CreateValidation", func(t *testing.T) { testCreateValidation(t, c) })
	t.Run("Points", func(t *testing.T) { testPoints(t, c) })
	t.Run("PointErrors", func(t *testing.T) { testPointErrors(t, c) })
	t.Run("NamedVectors", func(t *testing.T) { testNamedVectors(t, c) })
	t.Run("Search", func(t *testing.T) { testSearch(t, c) })
	t.Run("Query", func(t *testing.T) { testQuery(t, c) })
	t.Run("Scroll", func(t *testing.T) { testScroll(t, c) })
	t.Run("Cluster", func(t *testing.T) { testCluster(t, c) })
}

func testService(t *testing.T, c *harness.Cluster) {
	r := c.Do("GET", "/", nil)
	if r.Status != 200 || r.Body["title"] != "qdrant - vector search engine" || r.Body["version"] != "1.18.0" {
		t.Fatalf("GET /: %d %s", r.Status, r.Raw)
	}
	if _, has := r.Body["commit"]; !has {
		t.Fatalf("GET / without commit: %s", r.Raw)
	}
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if r := c.Do("GET", p, nil); r.Status != 200 {
			t.Fatalf("GET %s: %d %s", p, r.Status, r.Raw)
		}
	}
	fails(t, c, "GET", "/no/such/path", nil, 404, "Not found")

	// Observability: Prometheus metrics and Qdrant's telemetry.
	m := c.Do("GET", "/metrics", nil)
	if m.Status != 200 || !strings.Contains(string(m.Raw), `rest_responses_total{endpoint="/healthz",method="GET",status="200"}`) || !strings.Contains(string(m.Raw), "collections_total") {
		t.Fatalf("GET /metrics: %d %s", m.Status, m.Raw)
	}
	tel := obj(t, ok(t, c, "GET", "/telemetry", nil))
	resp := obj(t, obj(t, obj(t, tel["requests"])["rest"])["responses"])
	if tel["id"] != fmt.Sprint(c.Router.NodeID()) || num(t, obj(t, obj(t, resp["GET /healthz"])["200"])["count"]) < 1 {
		t.Fatalf("GET /telemetry: %v", tel)
	}
}

func testCollections(t *testing.T, c *harness.Cluster) {
	body := map[string]any{"vectors": map[string]any{"size": 4, "distance": "Cosine"}, "shard_number": 3, "replication_factor": 2}
	if res := ok(t, c, "PUT", "/collections/lifecycle", body); res != true {
		t.Fatalf("create: %v", res)
	}
	names := map[string]bool{}
	for _, d := range list(t, obj(t, ok(t, c, "GET", "/collections", nil))["collections"]) {
		names[obj(t, d)["name"].(string)] = true
	}
	if !names["lifecycle"] {
		t.Fatalf("list lacks the new collection: %v", names)
	}
	if ex := obj(t, ok(t, c, "GET", "/collections/lifecycle/exists", nil)); ex["exists"] != true {
		t.Fatalf("exists: %v", ex)
	}
	if ex := obj(t, ok(t, c, "GET", "/collections/never-created/exists", nil)); ex["exists"] != false {
		t.Fatalf("exists of a missing collection: %v", ex)
	}

	info := obj(t, ok(t, c, "GET", "/collections/lifecycle", nil))
	if info["status"] != "green" || info["optimizer_status"] != "ok" || num(t, info["points_count"]) != 0 ||
		num(t, info["segments_count"]) != 3 || num(t, info["indexed_vectors_count"]) != 0 {
		t.Fatalf("collection info: %v", info)
	}
	if len(obj(t, info["payload_schema"])) != 0 {
		t.Fatalf("payload_schema: %v", info["payload_schema"])
	}
	cfg := obj(t, info["config"])
	params := obj(t, cfg["params"])
	vectors := obj(t, params["vectors"])
	if num(t, vectors["size"]) != 4 || vectors["distance"] != "Cosine" || num(t, params["shard_number"]) != 3 ||
		num(t, params["replication_factor"]) != 2 || num(t, params["write_consistency_factor"]) != 1 {
		t.Fatalf("params: %v", params)
	}
	if _, isBool := params["on_disk_payload"].(bool); !isBool {
		t.Fatalf("params.on_disk_payload: %v", params)
	}
	hnsw := obj(t, cfg["hnsw_config"])
	if num(t, hnsw["m"]) != 16 || num(t, hnsw["ef_construct"]) != 100 || num(t, hnsw["full_scan_threshold"]) != 10000 {
		t.Fatalf("hnsw_config: %v", hnsw)
	}
	opt := obj(t, cfg["optimizer_config"])
	if num(t, opt["deleted_threshold"]) != 0.2 || num(t, opt["flush_interval_sec"]) != 5 {
		t.Fatalf("optimizer_config: %v", opt)
	}
	if wal := obj(t, cfg["wal_config"]); num(t, wal["wal_capacity_mb"]) != 32 {
		t.Fatalf("wal_config: %v", wal)
	}

	// The same configuration again is accepted; a different one conflicts.
	ok(t, c, "PUT", "/collections/lifecycle", body)
	fails(t, c, "PUT", "/collections/lifecycle", map[string]any{"vectors": map[string]any{"size": 8, "distance": "Cosine"}}, 409, "already exists")

	if res := ok(t, c, "DELETE", "/collections/lifecycle", nil); res != true {
		t.Fatalf("delete: %v", res)
	}
	if res := ok(t, c, "DELETE", "/collections/lifecycle", nil); res != false {
		t.Fatalf("delete again: %v", res)
	}
	fails(t, c, "GET", "/collections/lifecycle", nil, 404, "Not found: Collection `lifecycle` doesn't exist!")
	if ex := obj(t, ok(t, c, "GET", "/collections/lifecycle/exists", nil)); ex["exists"] != false {
		t.Fatalf("exists after delete: %v", ex)
	}
	// A name can be used again after a delete, with a new configuration.
	ok(t, c, "PUT", "/collections/lifecycle", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}})
	ok(t, c, "PUT", "/collections/lifecycle/points?wait=true", map[string]any{"points": []any{map[string]any{"id": 1, "vector": []float64{1, 2}}}})
	if n := obj(t, ok(t, c, "POST", "/collections/lifecycle/points/count", map[string]any{}))["count"]; num(t, n) != 1 {
		t.Fatalf("count in the re-created collection: %v", n)
	}
	ok(t, c, "DELETE", "/collections/lifecycle", nil)
}

func testCreateValidation(t *testing.T, c *harness.Cluster) {
	f := func(body any, status int, want string) {
		t.Helper()
		fails(t, c, "PUT", "/collections/invalid", body, status, want)
	}
	f(`{"vectors": {"size": 4, "distance": "Dot"`, 400, "Format error in JSON body")
	f(`{"vectors": {"size": 4, "distance": "Hamming"}}`, 400, "unknown variant `Hamming`")
	f(`{"vectors": {"size": 4}}`, 400, "missing field `distance`")
	f(`{"vectors": {"size": "four", "distance": "Dot"}}`, 400, "Format error in JSON body")
	f(`{"vectors": {"size": 4, "distance": "Dot"}, "unknown_field": 1}`, 400, "unknown field `unknown_field`")
	f(`{"vectors": {"size": 0, "distance": "Dot"}}`, 422, "vectors.size")
	f(`{"vectors": {"size": 4, "distance": "Dot"}, "shard_number": 0}`, 422, "shard_number")
	f(`{"vectors": {"size": 4, "distance": "Dot"}, "replication_factor": 0}`, 422, "replication_factor")
	f(`{}`, 422, "vectors")
	fails(t, c, "GET", "/collections/invalid", nil, 404, "doesn't exist")
}

func testPoints(t *testing.T, c *harness.Cluster) {
	ok(t, c, "PUT", "/collections/points", map[string]any{"vectors": map[string]any{"size": 3, "distance": "Dot"}, "shard_number": 3})
	defer ok(t, c, "DELETE", "/collections/points", nil)
	uuid := "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
	res := obj(t, ok(t, c, "PUT", "/collections/points/points?wait=true", `{"points": [
		{"id": 1, "vector": [1, 0, 0], "payload": {"city": "Berlin", "tags": ["a", "b"], "nested": {"x": 1, "y": 2}}},
		{"id": 2, "vector": [0, 1, 0]},
		{"id": "`+uuid+`", "vector": [0, 0, 1], "payload": null}
	]}`))
	if res["status"] != "completed" {
		t.Fatalf("upsert wait=true: %v", res)
	}
	if _, has := res["operation_id"]; !has {
		t.Fatalf("upsert without operation_id: %v", res)
	}
	res = obj(t, ok(t, c, "PUT", "/collections/points/points", map[string]any{"batch": map[string]any{
		"ids": []any{3, 4}, "vectors": [][]float64{{1, 1, 0}, {0, 1, 1}}, "payloads": []any{map[string]any{"k": 3}, nil},
	}}))
	if res["status"] != "acknowledged" && res["status"] != "completed" {
		t.Fatalf("upsert wait=false: %v", res)
	}
	eventually(t, "batch visible", func() bool {
		r := c.Do("POST", "/collections/points/points/count", map[string]any{"exact": true})
		return r.Status == 200 && num(t, obj(t, r.Result())["count"]) == 5
	})

	// GET one point: payload and vector.
	p := obj(t, ok(t, c, "GET", "/collections/points/points/1", nil))
	if num(t, p["id"]) != 1 || obj(t, p["payload"])["city"] != "Berlin" || len(list(t, p["vector"])) != 3 {
		t.Fatalf("get point: %v", p)
	}
	p = obj(t, ok(t, c, "GET", "/collections/points/points/"+uuid, nil))
	if p["id"] != uuid || len(obj(t, p["payload"])) != 0 {
		t.Fatalf("get uuid point: %v", p)
	}
	fails(t, c, "GET", "/collections/points/points/42", nil, 404, "Not found: Point with id 42 does not exists!")
	fails(t, c, "GET", "/collections/points/points/not-an-id", nil, 400, "UUID")

	// Retrieve: request order, missing ids skipped, selectors.
	got := ok(t, c, "POST", "/collections/points/points", map[string]any{"ids": []any{4, 99, 1, uuid}})
	if s := ids(t, got); s != "4 1 "+uuid {
		t.Fatalf("retrieve order: %s", s)
	}
	first := obj(t, list(t, got)[1])
	if first["vector"] != nil || obj(t, first["payload"])["city"] != "Berlin" {
		t.Fatalf("retrieve defaults (payload, no vector): %v", first)
	}
	got = ok(t, c, "POST", "/collections/points/points", map[string]any{"ids": []any{1}, "with_payload": []string{"nested.y"}, "with_vector": true})
	first = obj(t, list(t, got)[0])
	if fmt.Sprint(first["payload"]) != "map[nested:map[y:2]]" || len(list(t, first["vector"])) != 3 {
		t.Fatalf("retrieve with selectors: %v", first)
	}
	got = ok(t, c, "POST", "/collections/points/points", map[string]any{"ids": []any{1}, "with_payload": map[string]any{"exclude": []string{"nested", "tags"}}, "with_vector": false})
	if fmt.Sprint(obj(t, list(t, got)[0])["payload"]) != "map[city:Berlin]" {
		t.Fatalf("retrieve with exclude: %v", got)
	}
	got = ok(t, c, "POST", "/collections/points/points", map[string]any{"ids": []any{2}, "with_payload": false})
	if obj(t, list(t, got)[0])["payload"] != nil {
		t.Fatalf("with_payload=false: %v", got)
	}

	// Overwrite, delete, count.
	ok(t, c, "PUT", "/collections/points/points?wait=true", map[string]any{"points": []any{map[string]any{"id": 1, "vector": []float64{2, 2, 2}, "payload": map[string]any{"v": 2}}}})
	p = obj(t, ok(t, c, "GET", "/collections/points/points/1", nil))
	if fmt.Sprint(p["payload"]) != "map[v:2]" || fmt.Sprint(p["vector"]) != "[2 2 2]" {
		t.Fatalf("overwritten point: %v", p)
	}
	res = obj(t, ok(t, c, "POST", "/collections/points/points/delete?wait=true", map[string]any{"points": []any{2, 4, 1000}}))
	if res["status"] != "completed" {
		t.Fatalf("delete: %v", res)
	}
	if n := obj(t, ok(t, c, "POST", "/collections/points/points/count", nil))["count"]; num(t, n) != 3 {
		t.Fatalf("count after delete: %v", n)
	}
	if n := obj(t, ok(t, c, "GET", "/collections/points", nil))["points_count"]; num(t, n) != 3 {
		t.Fatalf("points_count after delete: %v", n)
	}
	fails(t, c, "GET", "/collections/points/points/2", nil, 404, "Point with id 2 does not exists!")
}

func testPointErrors(t *testing.T, c *harness.Cluster) {
	ok(t, c, "PUT", "/collections/errors", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}})
	defer ok(t, c, "DELETE", "/collections/errors", nil)
	f := func(method, path string, body any, status int, want string) {
		t.Helper()
		fails(t, c, method, path, body, status, want)
	}
	p := "/collections/errors/points"
	f("PUT", p, `{"points": [{"id": 1, "vector": [1, 2, 3]}]}`, 400, "Wrong input: Vector dimension error: expected dim: 4, got 3")
	f("PUT", p, `{"points": [{"id": 1, "vector": {"image": [1, 2, 3, 4]}}]}`, 400, "Wrong input: Not existing vector name error: image")
	f("PUT", p, `{"points": [{"id": -1, "vector": [1, 2, 3, 4]}]}`, 400, "not a valid point ID")
	f("PUT", p, `{"points": [{"id": "not-a-uuid", "vector": [1, 2, 3, 4]}]}`, 400, "UUID")
	f("PUT", p, `{"points": [{"id": 1.5, "vector": [1, 2, 3, 4]}]}`, 400, "not a valid point ID")
	f("PUT", p, `{"points": [{"id": 1, "vector": [1, 2, 3, 4], "payload": [1]}]}`, 400, "Format error in JSON body")
	f("PUT", p, `{"points": [{"id": 1, "vector": ["a", 2, 3, 4]}]}`, 400, "Format error in JSON body")
	f("PUT", p, `{"points": [{"id": 1, "vector": [1e39, 2, 3, 4]}]}`, 400, "Format error in JSON body")
	f("PUT", p, `{"points": [{"id": 1}]}`, 400, "missing field `vector`")
	f("PUT", p, `{"points": [{"id": 1, "vector": [1, 2, 3, 4]}`, 400, "Format error in JSON body")
	f("PUT", p, `{"batch": {"ids": [1, 2], "vectors": [[1, 2, 3, 4]]}}`, 400, "number of ids and vectors")
	f("PUT", p, `{"nothing": []}`, 400, "Format error in JSON body")
	f("PUT", p+"?wait=perhaps", `{"points": []}`, 400, "wait")
	// A bad point anywhere fails the whole request: nothing is written.
	f("PUT", p+"?wait=true", `{"points": [{"id": 1, "vector": [1, 2, 3, 4]}, {"id": 2, "vector": [1]}]}`, 400, "expected dim: 4, got 1")
	if n := obj(t, ok(t, c, "POST", p+"/count", map[string]any{}))["count"]; num(t, n) != 0 {
		t.Fatalf("a rejected request wrote points: %v", n)
	}
	// A filter must be an object.
	f("POST", p+"/delete", `{"filter": [{"key": "a", "match": {"value": 1}}]}`, 400, "expected struct Filter")
	f("POST", p+"/search", `{"vector": [1, 2, 3, 4], "limit": 1, "filter": "a"}`, 400, "expected struct Filter")
	f("POST", p+"/scroll", `{"filter": 1}`, 400, "expected struct Filter")
	f("POST", p+"/count", `{"filter": true}`, 400, "expected struct Filter")
	f("POST", p+"/query", `{"query": [1, 2, 3, 4], "filter": [1]}`, 400, "expected struct Filter")
	// Retrieve with an unknown vector name.
	f("POST", p, `{"ids": [1], "with_vector": ["image"]}`, 400, "Not existing vector name error: image")
	// Unknown collection, on every point endpoint.
	for _, ep := range []struct{ method, path, body string }{
		{"PUT", "/collections/missing/points", `{"points": []}`},
		{"POST", "/collections/missing/points", `{"ids": [1]}`},
		{"GET", "/collections/missing/points/1", ``},
		{"POST", "/collections/missing/points/delete", `{"points": [1]}`},
		{"POST", "/collections/missing/points/search", `{"vector": [1], "limit": 1}`},
		{"POST", "/collections/missing/points/query", `{"query": [1]}`},
		{"POST", "/collections/missing/points/scroll", `{}`},
		{"POST", "/collections/missing/points/count", `{}`},
		{"GET", "/collections/missing/cluster", ``},
	} {
		var body any
		if ep.body != "" {
			body = ep.body
		}
		f(ep.method, ep.path, body, 404, "Not found: Collection `missing` doesn't exist!")
	}
	// Bodies over service.max_request_size_mb (1 MiB here).
	big := `{"points": [` + strings.Repeat(`{"id": 1, "vector": [1, 2, 3, 4]},`, 40000) + `{"id": 1, "vector": [1, 2, 3, 4]}]}`
	f("PUT", p, big, 413, "larger than allowed")
}
