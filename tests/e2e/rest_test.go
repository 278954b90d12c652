// Package e2e drives a whole in-process Shoal cluster (tests/harness)
// through the router's Qdrant REST API with plain net/http and
// encoding/json, the way a Qdrant client does.
package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/tests/harness"
)

// --- helpers ---------------------------------------------------------------

// ok sends a request, requires 200 with Qdrant's envelope and returns the
// result.
func ok(t *testing.T, c *harness.Cluster, method, path string, body any) any {
	t.Helper()
	r := c.Do(method, path, body)
	if r.Status != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, path, r.Status, r.Raw)
	}
	if r.Body["status"] != "ok" {
		t.Fatalf("%s %s: envelope status %v: %s", method, path, r.Body["status"], r.Raw)
	}
	if _, isNum := r.Body["time"].(float64); !isNum {
		t.Fatalf("%s %s: envelope without time: %s", method, path, r.Raw)
	}
	return r.Result()
}

// fails sends a request and requires the status and an error message
// containing want, in Qdrant's error shape.
func fails(t *testing.T, c *harness.Cluster, method, path string, body any, status int, want string) {
	t.Helper()
	r := c.Do(method, path, body)
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Raw)
	}
	if !strings.Contains(r.Error(), want) {
		t.Fatalf("%s %s: error %q does not contain %q", method, path, r.Error(), want)
	}
	if _, isNum := r.Body["time"].(float64); !isNum {
		t.Fatalf("%s %s: error without time: %s", method, path, r.Raw)
	}
}

// obj and list assert a JSON shape.
func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, isObj := v.(map[string]any)
	if !isObj {
		t.Fatalf("expected an object, got %T %v", v, v)
	}
	return m
}

func list(t *testing.T, v any) []any {
	t.Helper()
	l, isList := v.([]any)
	if !isList {
		t.Fatalf("expected an array, got %T %v", v, v)
	}
	return l
}

// ids returns the "id" member of every element, formatted.
func ids(t *testing.T, v any) string {
	t.Helper()
	var out []string
	for _, p := range list(t, v) {
		out = append(out, fmt.Sprint(obj(t, p)["id"]))
	}
	return strings.Join(out, " ")
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	f, isNum := v.(float64)
	if !isNum {
		t.Fatalf("expected a number, got %T %v", v, v)
	}
	return f
}

// eventually polls cond until it holds (or fails the test after 30 s):
// for state that converges, never for timing assertions.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// linePoints returns n points whose 2-dim vectors are (i, 0) for ids 1..n.
func linePoints(n int) []map[string]any {
	var pts []map[string]any
	for i := 1; i <= n; i++ {
		pts = append(pts, map[string]any{"id": i, "vector": []float64{float64(i), 0}, "payload": map[string]any{"i": i}})
	}
	return pts
}

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
	// Filters are not supported yet.
	f("POST", p+"/delete", `{"filter": {"must": [{"key": "a", "match": {"value": 1}}]}}`, 400, "filters are not supported yet")
	f("POST", p+"/search", `{"vector": [1, 2, 3, 4], "limit": 1, "filter": {"must": []}}`, 400, "filters are not supported yet")
	f("POST", p+"/scroll", `{"filter": {"must": []}}`, 400, "filters are not supported yet")
	f("POST", p+"/count", `{"filter": {"must": []}}`, 400, "filters are not supported yet")
	f("POST", p+"/query", `{"query": [1, 2, 3, 4], "filter": {"must": []}}`, 400, "filters are not supported yet")
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

func testNamedVectors(t *testing.T, c *harness.Cluster) {
	ok(t, c, "PUT", "/collections/named", map[string]any{"vectors": map[string]any{
		"image": map[string]any{"size": 2, "distance": "Dot"},
		"text":  map[string]any{"size": 3, "distance": "Cosine"},
	}})
	defer ok(t, c, "DELETE", "/collections/named", nil)
	params := obj(t, obj(t, obj(t, ok(t, c, "GET", "/collections/named", nil))["config"])["params"])
	if v := obj(t, obj(t, params["vectors"])["text"]); num(t, v["size"]) != 3 || v["distance"] != "Cosine" {
		t.Fatalf("named vectors config: %v", params)
	}
	ok(t, c, "PUT", "/collections/named/points?wait=true", `{"points": [
		{"id": 1, "vector": {"image": [1, 0], "text": [1, 0, 0]}},
		{"id": 2, "vector": {"image": [0, 1]}}
	]}`)
	ok(t, c, "PUT", "/collections/named/points?wait=true", `{"batch": {"ids": [3], "vectors": {"image": [[1, 1]], "text": [[0, 0, 1]]}}}`)
	fails(t, c, "PUT", "/collections/named/points", `{"points": [{"id": 9, "vector": [1, 0]}]}`, 400, "Not existing vector name error")
	fails(t, c, "PUT", "/collections/named/points", `{"points": [{"id": 9, "vector": {"text": [1, 0]}}]}`, 400, "expected dim: 3, got 2")

	got := list(t, ok(t, c, "POST", "/collections/named/points", map[string]any{"ids": []any{1}, "with_vector": []string{"text"}}))
	vec := obj(t, obj(t, got[0])["vector"])
	if len(vec) != 1 || len(list(t, vec["text"])) != 3 {
		t.Fatalf("with_vector [text]: %v", got)
	}
	hits := ok(t, c, "POST", "/collections/named/points/search", map[string]any{"vector": map[string]any{"name": "image", "vector": []float64{1, 0.1}}, "limit": 3})
	if s := ids(t, hits); s != "3 1 2" {
		t.Fatalf("named search: %s", s)
	}
	res := obj(t, ok(t, c, "POST", "/collections/named/points/query", map[string]any{"query": []float64{0, 0, 1}, "using": "text", "limit": 1}))
	if s := ids(t, res["points"]); s != "3" {
		t.Fatalf("named query: %s", s)
	}
	fails(t, c, "POST", "/collections/named/points/search", map[string]any{"vector": map[string]any{"name": "audio", "vector": []float64{1}}, "limit": 1}, 400, "Not existing vector name error: audio")
	fails(t, c, "POST", "/collections/named/points/search", map[string]any{"vector": []float64{1, 0}, "limit": 1}, 400, "Not existing vector name error")
}

func testSearch(t *testing.T, c *harness.Cluster) {
	for _, tc := range []struct {
		distance string
		want     string // ids nearest to (3.2, 0) first
	}{
		{"Euclid", "3 4 2 5 1"},
		{"Manhattan", "3 4 2 5 1"},
		{"Dot", "10 9 8 7 6"},
	} {
		name := "search-" + strings.ToLower(tc.distance)
		ok(t, c, "PUT", "/collections/"+name, map[string]any{"vectors": map[string]any{"size": 2, "distance": tc.distance}, "shard_number": 3})
		ok(t, c, "PUT", "/collections/"+name+"/points?wait=true", map[string]any{"points": linePoints(10)})
		hits := ok(t, c, "POST", "/collections/"+name+"/points/search", map[string]any{"vector": []float64{3.2, 0}, "top": 5})
		if s := ids(t, hits); s != tc.want {
			t.Fatalf("%s: search order %s, want %s", tc.distance, s, tc.want)
		}
		h := obj(t, list(t, hits)[0])
		if h["payload"] != nil || h["vector"] != nil {
			t.Fatalf("%s: search returns payload/vector by default: %v", tc.distance, h)
		}
		if _, has := h["version"]; !has {
			t.Fatalf("%s: hit without version: %v", tc.distance, h)
		}
		scores := list(t, hits)
		for i := 1; i < len(scores); i++ {
			a, b := num(t, obj(t, scores[i-1])["score"]), num(t, obj(t, scores[i])["score"])
			if (tc.distance == "Dot" && a < b) || (tc.distance != "Dot" && a > b) {
				t.Fatalf("%s: scores out of order: %v", tc.distance, hits)
			}
		}
		// offset + limit page through the same order.
		page := ok(t, c, "POST", "/collections/"+name+"/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 2, "offset": 2, "with_payload": true, "with_vector": true})
		want := strings.Fields(tc.want)
		if s := ids(t, page); s != want[2]+" "+want[3] {
			t.Fatalf("%s: offset page %s", tc.distance, s)
		}
		h = obj(t, list(t, page)[0])
		if obj(t, h["payload"])["i"] == nil || len(list(t, h["vector"])) != 2 {
			t.Fatalf("%s: with_payload/with_vector: %v", tc.distance, h)
		}
		ok(t, c, "DELETE", "/collections/"+name, nil)
	}

	ok(t, c, "PUT", "/collections/search", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "shard_number": 2})
	defer ok(t, c, "DELETE", "/collections/search", nil)
	ok(t, c, "PUT", "/collections/search/points?wait=true", map[string]any{"points": linePoints(10)})
	// score_threshold: for a distance, at most the threshold.
	hits := ok(t, c, "POST", "/collections/search/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 10, "score_threshold": 1.0})
	if s := ids(t, hits); s != "3 4" {
		t.Fatalf("score_threshold: %s", s)
	}
	hits = ok(t, c, "POST", "/collections/search/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 3, "params": map[string]any{"exact": true, "hnsw_ef": 64}})
	if s := ids(t, hits); s != "3 4 2" {
		t.Fatalf("exact search: %s", s)
	}
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": [1, 2, 3], "limit": 1}`, 400, "Vector dimension error: expected dim: 2, got 3")
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": [1, 2]}`, 400, "missing field `limit`")
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": [1, 2], "limit": 0}`, 422, "limit")
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": [1, 2], "limit": 1, "top": 1}`, 400, "duplicate field")
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": "near", "limit": 1}`, 400, "Format error in JSON body")
	fails(t, c, "POST", "/collections/search/points/search", `{"limit": 1}`, 400, "missing field `vector`")
}

func testQuery(t *testing.T, c *harness.Cluster) {
	ok(t, c, "PUT", "/collections/query", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "shard_number": 3})
	defer ok(t, c, "DELETE", "/collections/query", nil)
	ok(t, c, "PUT", "/collections/query/points?wait=true", map[string]any{"points": linePoints(10)})
	q := func(body any) any {
		t.Helper()
		return obj(t, ok(t, c, "POST", "/collections/query/points/query", body))["points"]
	}
	if s := ids(t, q(map[string]any{"query": []float64{3.2, 0}, "limit": 3})); s != "3 4 2" {
		t.Fatalf("query by vector: %s", s)
	}
	pts := q(map[string]any{"query": map[string]any{"nearest": []float64{3.2, 0}}, "limit": 2, "offset": 1, "with_payload": true})
	if s := ids(t, pts); s != "4 2" {
		t.Fatalf("nearest query with offset: %s", s)
	}
	if obj(t, obj(t, list(t, pts)[0])["payload"])["i"] == nil {
		t.Fatalf("query with_payload: %v", pts)
	}
	// Query by a point's id: its neighbours, without the point itself.
	if s := ids(t, q(map[string]any{"query": 5, "limit": 2})); s != "4 6" {
		t.Fatalf("query by id: %s", s)
	}
	if s := ids(t, q(map[string]any{"query": []float64{0, 0}})); s != "1 2 3 4 5 6 7 8 9 10" {
		t.Fatalf("query default limit 10: %s", s)
	}
	// No query: points in id order.
	if s := ids(t, q(map[string]any{"limit": 3, "offset": 2})); s != "3 4 5" {
		t.Fatalf("query without query: %s", s)
	}
	fails(t, c, "POST", "/collections/query/points/query", `{"query": 777}`, 404, "Point with id 777 does not exists!")
	fails(t, c, "POST", "/collections/query/points/query", `{"query": {"recommend": {"positive": [1]}}}`, 400, "not supported yet")
	fails(t, c, "POST", "/collections/query/points/query", `{"query": [1, 2, 3]}`, 400, "expected dim: 2, got 3")
	fails(t, c, "POST", "/collections/query/points/query", `{"query": [1, 2], "using": "other"}`, 400, "Not existing vector name error: other")
	fails(t, c, "POST", "/collections/query/points/query", `{"query": [1, 2], "limit": 0}`, 422, "limit")
}

func testScroll(t *testing.T, c *harness.Cluster) {
	ok(t, c, "PUT", "/collections/scroll", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 3})
	defer ok(t, c, "DELETE", "/collections/scroll", nil)
	pts := linePoints(25)
	uuids := []string{"00000000-0000-0000-0000-000000000001", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
	for _, u := range uuids {
		pts = append(pts, map[string]any{"id": u, "vector": []float64{1, 1}})
	}
	ok(t, c, "PUT", "/collections/scroll/points?wait=true", map[string]any{"points": pts})

	// Default page: 10 points with payload, without vectors.
	res := obj(t, ok(t, c, "POST", "/collections/scroll/points/scroll", map[string]any{}))
	first := list(t, res["points"])
	if len(first) != 10 || num(t, res["next_page_offset"]) != 11 {
		t.Fatalf("default scroll page: %d points, next %v", len(first), res["next_page_offset"])
	}
	if p := obj(t, first[0]); p["vector"] != nil || obj(t, p["payload"])["i"] == nil {
		t.Fatalf("scroll defaults: %v", p)
	}
	// Page through everything: integers ascending, then UUIDs.
	var seen []string
	var offset any
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("scroll does not end")
		}
		body := map[string]any{"limit": 4, "with_payload": false, "with_vector": true}
		if offset != nil {
			body["offset"] = offset
		}
		res := obj(t, ok(t, c, "POST", "/collections/scroll/points/scroll", body))
		for _, p := range list(t, res["points"]) {
			seen = append(seen, fmt.Sprint(obj(t, p)["id"]))
			if len(list(t, obj(t, p)["vector"])) != 2 {
				t.Fatalf("with_vector: %v", p)
			}
		}
		offset = res["next_page_offset"]
		if offset == nil {
			break
		}
	}
	var want []string
	for i := 1; i <= 25; i++ {
		want = append(want, fmt.Sprint(i))
	}
	want = append(want, uuids...)
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Fatalf("scrolled %v", seen)
	}
	fails(t, c, "POST", "/collections/scroll/points/scroll", `{"offset": "nope"}`, 400, "UUID")
	fails(t, c, "POST", "/collections/scroll/points/scroll", `{"limit": 0}`, 422, "limit")
	fails(t, c, "POST", "/collections/scroll/points/scroll", `{"order_by": "i"}`, 400, "not supported yet")
}

func testCluster(t *testing.T, c *harness.Cluster) {
	st := obj(t, ok(t, c, "GET", "/cluster", nil))
	if st["status"] != "enabled" || num(t, st["peer_id"]) != float64(c.Router.NodeID()) {
		t.Fatalf("cluster: %v", st)
	}
	peers := obj(t, st["peers"])
	if len(peers) != 5 { // 1 meta, 3 storage, 1 router
		t.Fatalf("peers: %v", peers)
	}
	for id, p := range peers {
		if obj(t, p)["uri"] == "" {
			t.Fatalf("peer %s without uri", id)
		}
	}
	if _, has := peers[fmt.Sprint(c.Router.NodeID())]; !has {
		t.Fatalf("router not among peers: %v", peers)
	}
	raft := obj(t, st["raft_info"])
	if num(t, raft["term"]) < 1 || num(t, raft["commit"]) < 1 || raft["leader"] == nil || raft["role"] != "Follower" || raft["is_voter"] != false {
		t.Fatalf("raft_info: %v", raft)
	}
	if num(t, raft["pending_operations"]) != 0 {
		t.Fatalf("pending_operations: %v", raft)
	}
	if th := obj(t, st["consensus_thread_status"]); th["consensus_thread_status"] != "working" {
		t.Fatalf("consensus_thread_status: %v", th)
	} else if _, err := time.Parse(time.RFC3339, th["last_update"].(string)); err != nil {
		t.Fatalf("last_update: %v", err)
	}
	if len(obj(t, st["message_send_failures"])) != 0 {
		t.Fatalf("message_send_failures: %v", st)
	}

	ok(t, c, "PUT", "/collections/placed", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 3, "replication_factor": 2})
	defer ok(t, c, "DELETE", "/collections/placed", nil)
	info := obj(t, ok(t, c, "GET", "/collections/placed/cluster", nil))
	if num(t, info["peer_id"]) != float64(c.Router.NodeID()) || num(t, info["shard_count"]) != 3 ||
		len(list(t, info["local_shards"])) != 0 || len(list(t, info["shard_transfers"])) != 0 {
		t.Fatalf("collection cluster: %v", info)
	}
	remote := list(t, info["remote_shards"])
	if len(remote) != 6 {
		t.Fatalf("remote_shards: %v", remote)
	}
	perShard := map[float64][]float64{}
	for _, r := range remote {
		r := obj(t, r)
		if r["state"] != "Active" {
			t.Fatalf("replica state: %v", r)
		}
		if _, has := peers[fmt.Sprint(uint64(num(t, r["peer_id"])))]; !has {
			t.Fatalf("replica on an unknown peer: %v", r)
		}
		perShard[num(t, r["shard_id"])] = append(perShard[num(t, r["shard_id"])], num(t, r["peer_id"]))
	}
	for shard, nodes := range perShard {
		sort.Float64s(nodes)
		if len(nodes) != 2 || nodes[0] == nodes[1] {
			t.Fatalf("shard %v replicas not on distinct nodes: %v", shard, nodes)
		}
	}
}

// TestRESTFailures stops storage nodes and the meta tier under the router.
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
	ok(t, c, "PUT", "/collections/replicated/points?wait=true", map[string]any{"points": []any{map[string]any{"id": 100, "vector": []float64{100, 0}}}})
	if p := obj(t, ok(t, c, "GET", "/collections/replicated/points/100", nil)); num(t, p["id"]) != 100 {
		t.Fatalf("read back a write made with meta down: %v", p)
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
