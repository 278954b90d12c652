package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/rest"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

type consensus struct{ err error }

func (c *consensus) Status(context.Context) (service.RaftInfo, error) {
	return service.RaftInfo{Term: 3, Commit: 42, Leader: 7}, c.err
}

type env struct {
	t    *testing.T
	fc   *fake.Cluster
	cons *consensus
	url  string
}

// newEnv serves the REST API over a fake cluster of three storage nodes.
func newEnv(t *testing.T, opt rest.Options) *env {
	t.Helper()
	fc := fake.NewCluster(3)
	cons := &consensus{}
	svc := service.New(service.Options{
		NodeID: 555, State: fc.State, Aliases: fc.Aliases, Router: routing.New(fc.State, fc.Dialer(), nil), Meta: fc, Consensus: cons,
		Defaults: service.Defaults{OnDiskPayload: true}, Log: zerolog.Nop(),
	})
	if opt.MaxBodyBytes == 0 {
		opt.MaxBodyBytes = 1 << 20
	}
	srv := httptest.NewServer(rest.New(svc, opt))
	t.Cleanup(srv.Close)
	return &env{t: t, fc: fc, cons: cons, url: srv.URL}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) result() any { return r.body["result"] }

func (r reply) err() string {
	st, _ := r.body["status"].(map[string]any)
	s, _ := st["error"].(string)
	return s
}

func (e *env) do(method, path, body string, header ...string) reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// ok sends a request, requires 200 and Qdrant's envelope, and returns the
// result re-encoded as compact JSON.
func (e *env) ok(method, path, body string) string {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != 200 || r.body["status"] != "ok" {
		e.t.Fatalf("%s %s: %d %s", method, path, r.status, r.raw)
	}
	if _, ok := r.body["time"].(float64); !ok {
		e.t.Fatalf("%s %s: no time in %s", method, path, r.raw)
	}
	b, _ := json.Marshal(r.result())
	return string(b)
}

// fails requires an error status and a message containing want.
func (e *env) fails(method, path, body string, status int, want string) {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != status || !strings.Contains(r.err(), want) {
		e.t.Fatalf("%s %s %s: got %d %s, want %d with %q", method, path, body, r.status, r.raw, status, want)
	}
	if _, ok := r.body["time"].(float64); !ok {
		e.t.Fatalf("%s %s: error without time: %s", method, path, r.raw)
	}
}

func TestServiceEndpoints(t *testing.T) {
	e := newEnv(t, rest.Options{})
	r := e.do("GET", "/", "")
	if r.status != 200 || r.body["title"] != "qdrant - vector search engine" || r.body["version"] != "1.18.0" {
		t.Fatalf("GET /: %d %s", r.status, r.raw)
	}
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if r := e.do("GET", p, ""); r.status != 200 {
			t.Fatalf("%s: %d %s", p, r.status, r.raw)
		}
	}
	e.cons.err = errors.New("etcd down")
	if r := e.do("GET", "/readyz", ""); r.status != 503 {
		t.Fatalf("readyz with meta down: %d", r.status)
	}
	if r := e.do("GET", "/healthz", ""); r.status != 200 {
		t.Fatalf("healthz with meta down: %d", r.status)
	}
	e.fails("GET", "/nothing/here", "", 404, "Not found")
	e.fails("PATCH", "/collections", "", 404, "Not found")
}

func TestCollectionLifecycle(t *testing.T) {
	e := newEnv(t, rest.Options{})
	if got := e.ok("GET", "/collections", ""); got != `{"collections":[]}` {
		t.Fatalf("empty list: %s", got)
	}
	if got := e.ok("PUT", "/collections/books", `{"vectors":{"size":4,"distance":"Dot"},"shard_number":2,"hnsw_config":{"m":32}}`); got != "true" {
		t.Fatalf("create: %s", got)
	}
	if got := e.ok("GET", "/collections", ""); got != `{"collections":[{"name":"books"}]}` {
		t.Fatalf("list: %s", got)
	}
	if got := e.ok("GET", "/collections/books/exists", ""); got != `{"exists":true}` {
		t.Fatalf("exists: %s", got)
	}
	if got := e.ok("GET", "/collections/none/exists", ""); got != `{"exists":false}` {
		t.Fatalf("exists: %s", got)
	}
	info := e.ok("GET", "/collections/books", "")
	for _, want := range []string{
		`"status":"green"`, `"optimizer_status":"ok"`, `"points_count":0`, `"segments_count":2`, `"indexed_vectors_count":0`, `"payload_schema":{}`,
		`"params":{"on_disk_payload":true,"replication_factor":1,"shard_number":2,"vectors":{"distance":"Dot","size":4},"write_consistency_factor":1}`,
		`"hnsw_config":{"ef_construct":100,"full_scan_threshold":10000,"m":32,"max_indexing_threads":0,"on_disk":false}`,
		`"wal_config":{"wal_capacity_mb":32,"wal_retain_closed":1,"wal_segments_ahead":0}`,
		`"deleted_threshold":0.2`, `"indexing_threshold":10000`, `"flush_interval_sec":5`,
	} {
		if !strings.Contains(info, want) {
			t.Errorf("collection info lacks %s:\n%s", want, info)
		}
	}
	// Same configuration again: idempotent; a different one: conflict.
	e.ok("PUT", "/collections/books", `{"vectors":{"size":4,"distance":"Dot"},"shard_number":2,"hnsw_config":{"m":32}}`)
	e.fails("PUT", "/collections/books", `{"vectors":{"size":8,"distance":"Dot"}}`, 409, "Collection `books` already exists!")

	if got := e.ok("DELETE", "/collections/books", ""); got != "true" {
		t.Fatalf("delete: %s", got)
	}
	if got := e.ok("DELETE", "/collections/books", ""); got != "false" {
		t.Fatalf("delete again: %s", got)
	}
	e.fails("GET", "/collections/books", "", 404, "Not found: Collection `books` doesn't exist!")
}

func TestCreateCollectionValidation(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.fails("PUT", "/collections/c", `{"vectors":{"size":0,"distance":"Dot"}}`, 422, "Validation error in JSON body: [vectors.size: value 0 invalid, must be 1 or larger]")
	e.fails("PUT", "/collections/c", `{"vectors":{"a":{"size":70000,"distance":"Dot"}}}`, 422, "vectors.a.size")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot"},"shard_number":0}`, 422, "shard_number: value 0 invalid")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot"},"replication_factor":0}`, 422, "replication_factor")
	e.fails("PUT", "/collections/c", `{}`, 422, "Validation error in JSON body: [vectors: at least one vector must be configured]")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot"},"hnsw_config":{"ef_construct":2}}`, 422, "hnsw_config.ef_construct")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot"},"hnsw_config":{"m":"many"}}`, 400, "Format error in JSON body: hnsw_config")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot"},"quantization_config":5}`, 400, "quantization_config: expected an object")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot"},"sharding_method":"random"}`, 400, "sharding_method: unknown variant `random`")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot","multivector_config":{"comparator":"max_sim"}}}`, 400, "multivector_config is not supported yet")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot"}`, 400, "Format error in JSON body")
	e.fails("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dotty"}}`, 400, "unknown variant `Dotty`")
	e.fails("PUT", "/collections/a%2Fb", `{"vectors":{"size":4,"distance":"Dot"}}`, 422, "collection name cannot contain \"/\" char")
	if got := e.ok("GET", "/collections", ""); got != `{"collections":[]}` {
		t.Fatalf("a failed create left %s", got)
	}
}

func TestPoints(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":3,"distance":"Dot"},"shard_number":3}`)
	got := e.ok("PUT", "/collections/c/points?wait=true", `{"points":[
		{"id":1,"vector":[1,0,0],"payload":{"city":"Berlin","n":{"a":1,"b":2}}},
		{"id":2,"vector":[0,1,0]},
		{"id":"00000000-0000-0000-0000-000000000003","vector":[0,0,1],"payload":null}]}`)
	if !strings.Contains(got, `"status":"completed"`) || !strings.Contains(got, `"operation_id"`) {
		t.Fatalf("upsert: %s", got)
	}
	got = e.ok("PUT", "/collections/c/points", `{"batch":{"ids":[4,5],"vectors":[[1,1,0],[0,1,1]],"payloads":[{"k":4},null]}}`)
	if !strings.Contains(got, `"status":"acknowledged"`) {
		t.Fatalf("upsert without wait: %s", got)
	}

	if got := e.ok("GET", "/collections/c/points/1", ""); got != `{"id":1,"payload":{"city":"Berlin","n":{"a":1,"b":2}},"vector":[1,0,0]}` {
		t.Fatalf("get point: %s", got)
	}
	if got := e.ok("GET", "/collections/c/points/00000000-0000-0000-0000-000000000003", ""); got != `{"id":"00000000-0000-0000-0000-000000000003","payload":{},"vector":[0,0,1]}` {
		t.Fatalf("get uuid point: %s", got)
	}
	e.fails("GET", "/collections/c/points/99", "", 404, "Not found: Point with id 99 does not exists!")
	e.fails("GET", "/collections/c/points/nope", "", 400, "unable to parse UUID: nope")

	if got := e.ok("POST", "/collections/c/points", `{"ids":[4,99,1]}`); got != `[{"id":4,"payload":{"k":4},"vector":null},{"id":1,"payload":{"city":"Berlin","n":{"a":1,"b":2}},"vector":null}]` {
		t.Fatalf("retrieve: %s", got)
	}
	if got := e.ok("POST", "/collections/c/points", `{"ids":[1],"with_payload":["n.b"],"with_vector":true}`); got != `[{"id":1,"payload":{"n":{"b":2}},"vector":[1,0,0]}]` {
		t.Fatalf("retrieve with selectors: %s", got)
	}
	if got := e.ok("POST", "/collections/c/points", `{"ids":[1],"with_payload":{"exclude":["city"]}}`); got != `[{"id":1,"payload":{"n":{"a":1,"b":2}},"vector":null}]` {
		t.Fatalf("retrieve with exclude: %s", got)
	}

	if got := e.ok("POST", "/collections/c/points/count", `{"exact":true}`); got != `{"count":5}` {
		t.Fatalf("count: %s", got)
	}
	if !strings.Contains(e.ok("GET", "/collections/c", ""), `"points_count":5`) {
		t.Fatal("collection info does not count the points")
	}
	got = e.ok("POST", "/collections/c/points/delete?wait=true", `{"points":[2,4]}`)
	if !strings.Contains(got, `"completed"`) {
		t.Fatalf("delete: %s", got)
	}
	if got := e.ok("POST", "/collections/c/points/count", ``); got != `{"count":3}` {
		t.Fatalf("count after delete: %s", got)
	}
}

func TestPointErrors(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":4,"distance":"Dot"}}`)
	e.ok("PUT", "/collections/n", `{"vectors":{"image":{"size":2,"distance":"Cosine"}}}`)
	e.fails("PUT", "/collections/c/points", `{"points":[{"id":1,"vector":[1,2,3]}]}`, 400, "Wrong input: Vector dimension error: expected dim: 4, got 3")
	e.fails("PUT", "/collections/c/points", `{"points":[{"id":1,"vector":{"other":[1,2,3,4]}}]}`, 400, "Wrong input: Not existing vector name error: other")
	e.fails("PUT", "/collections/n/points", `{"points":[{"id":1,"vector":[1,2]}]}`, 400, "Wrong input: Not existing vector name error: ")
	e.fails("PUT", "/collections/n/points", `{"points":[{"id":1,"vector":{"image":[1]}}]}`, 400, "expected dim: 2, got 1")
	e.fails("PUT", "/collections/c/points", `{"points":[{"id":-1,"vector":[1,2,3,4]}]}`, 400, "not a valid point ID")
	e.fails("PUT", "/collections/c/points", `{"points":[{"id":1,"vector":[1,2,3,4]}`, 400, "Format error in JSON body")
	e.fails("PUT", "/collections/c/points?wait=maybe", `{"points":[]}`, 400, "wait")
	e.fails("PUT", "/collections/c/points?ordering=fast", `{"points":[]}`, 400, "ordering")
	e.fails("PUT", "/collections/none/points", `{"points":[]}`, 404, "Not found: Collection `none` doesn't exist!")
	e.fails("POST", "/collections/c/points/delete", `{"filter":"city"}`, 400, "expected struct Filter")
	e.fails("POST", "/collections/c/points", `{"ids":[1],"with_vector":["nope"]}`, 400, "Not existing vector name error: nope")
	// A bad point fails the whole request: nothing was written.
	e.fails("PUT", "/collections/c/points", `{"points":[{"id":1,"vector":[1,2,3,4]},{"id":2,"vector":[1]}]}`, 400, "expected dim: 4, got 1")
	if got := e.ok("POST", "/collections/c/points/count", `{}`); got != `{"count":0}` {
		t.Fatalf("partial write: %s", got)
	}
	// Named vectors: a subset is fine, output is a map.
	e.ok("PUT", "/collections/n/points?wait=true", `{"points":[{"id":1,"vector":{"image":[1,0]}},{"id":2,"vector":{}}]}`)
	if got := e.ok("POST", "/collections/n/points", `{"ids":[1,2],"with_vector":true,"with_payload":false}`); got != `[{"id":1,"payload":null,"vector":{"image":[1,0]}},{"id":2,"payload":null,"vector":{}}]` {
		t.Fatalf("named vectors: %s", got)
	}
}

func TestSearchQueryScroll(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Euclid"},"shard_number":3}`)
	var pts []string
	for i := 0; i < 10; i++ {
		pts = append(pts, `{"id":`+itoa(i+1)+`,"vector":[`+itoa(i+1)+`,0],"payload":{"i":`+itoa(i+1)+`}}`)
	}
	e.ok("PUT", "/collections/c/points?wait=true", `{"points":[`+strings.Join(pts, ",")+`]}`)

	got := e.ok("POST", "/collections/c/points/search", `{"vector":[3.2,0],"top":3}`)
	if got != `[{"id":3,"payload":null,"score":0.20000005,"vector":null,"version":1},{"id":4,"payload":null,"score":0.79999995,"vector":null,"version":1},{"id":2,"payload":null,"score":1.2,"vector":null,"version":1}]` {
		t.Fatalf("search: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/search", `{"vector":[3.2,0],"limit":2,"offset":1,"with_payload":true,"with_vector":true}`)
	if !strings.HasPrefix(got, `[{"id":4,"payload":{"i":4},"score":0.79999995,"vector":[4,0]`) || strings.Count(got, `"id"`) != 2 {
		t.Fatalf("search with offset: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/search", `{"vector":[3.2,0],"limit":10,"score_threshold":1}`)
	if strings.Count(got, `"id"`) != 2 {
		t.Fatalf("search with score_threshold (distance): %s", got)
	}
	e.fails("POST", "/collections/c/points/search", `{"vector":[1,2,3],"limit":1}`, 400, "Vector dimension error: expected dim: 2, got 3")
	e.fails("POST", "/collections/c/points/search", `{"vector":{"name":"x","vector":[1,2]},"limit":1}`, 400, "Not existing vector name error: x")
	e.fails("POST", "/collections/c/points/search", `{"vector":[1,2],"limit":0}`, 422, "limit")
	e.fails("POST", "/collections/c/points/search", `{"vector":[1,2],"limit":1,"filter":{"must":[{"key":"i","near":1}]}}`, 400, "unsupported condition")

	got = e.ok("POST", "/collections/c/points/query", `{"query":{"nearest":[3.2,0]},"limit":1,"with_payload":true}`)
	if got != `{"points":[{"id":3,"payload":{"i":3},"score":0.20000005,"vector":null,"version":1}]}` {
		t.Fatalf("query: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/query", `{"query":5,"limit":2}`)
	if !strings.HasPrefix(got, `{"points":[{"id":4,`) || !strings.Contains(got, `{"id":6,`) || strings.Contains(got, `"id":5,`) {
		t.Fatalf("query by id: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/query", `{"limit":3,"offset":2}`)
	if got != `{"points":[{"id":3,"payload":null,"score":0,"vector":null,"version":1},{"id":4,"payload":null,"score":0,"vector":null,"version":1},{"id":5,"payload":null,"score":0,"vector":null,"version":1}]}` {
		t.Fatalf("query without query: %s", got)
	}
	e.fails("POST", "/collections/c/points/query", `{"query":99}`, 404, "Point with id 99 does not exists!")

	got = e.ok("POST", "/collections/c/points/scroll", `{"limit":4,"with_payload":false}`)
	if got != `{"next_page_offset":5,"points":[{"id":1,"payload":null,"vector":null},{"id":2,"payload":null,"vector":null},{"id":3,"payload":null,"vector":null},{"id":4,"payload":null,"vector":null}]}` {
		t.Fatalf("scroll: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/scroll", `{"offset":9}`)
	if got != `{"next_page_offset":null,"points":[{"id":9,"payload":{"i":9},"vector":null},{"id":10,"payload":{"i":10},"vector":null}]}` {
		t.Fatalf("last scroll page: %s", got)
	}
}

func TestUnavailableAndLimits(t *testing.T) {
	e := newEnv(t, rest.Options{MaxBodyBytes: 100})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":3}`)
	e.fails("PUT", "/collections/c/points", `{"points":[`+strings.Repeat(`{"id":1,"vector":[1,2]},`, 10)+`{"id":1,"vector":[1,2]}]}`, 413, "larger than allowed (limit: 100 bytes)")
	for _, s := range e.fc.Storage {
		s.SetDown(true)
	}
	e.fails("POST", "/collections/c/points/count", `{}`, 503, "No active replica for shard")
	e.fails("PUT", "/collections/c/points?timeout=1", `{"points":[{"id":1,"vector":[1,2]}]}`, 503, "no primary for shard")
	if got := e.ok("GET", "/collections/c", ""); !strings.Contains(got, `"status":"red"`) {
		t.Fatalf("collection info with storage down: %s", got)
	}
	e.fails("POST", "/collections/c/points/count?timeout=abc", `{}`, 400, "timeout")
}

func TestCluster(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":2,"replication_factor":2}`)
	got := e.ok("GET", "/cluster", "")
	for _, want := range []string{`"status":"enabled"`, `"peer_id":555`, `"1":{"uri":"fake://storage-1"}`, `"100":{"uri":"fake://meta-peer"}`,
		`"raft_info":{"commit":42,"is_voter":false,"leader":7,"pending_operations":0,"role":"Follower","term":3}`,
		`"consensus_thread_status":"working"`, `"message_send_failures":{}`} {
		if !strings.Contains(got, want) {
			t.Errorf("cluster lacks %s: %s", want, got)
		}
	}
	e.cons.err = errors.New("no meta")
	if got := e.ok("GET", "/cluster", ""); !strings.Contains(got, `"consensus_thread_status":"stopped_with_err","err":"no meta"`) {
		t.Errorf("cluster with meta down: %s", got)
	}
	e.fc.State.SetReplicaState("c", 1, 1, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
	got = e.ok("GET", "/collections/c/cluster", "")
	want := `{"local_shards":[],"peer_id":555,"remote_shards":[{"peer_id":1,"shard_id":0,"state":"Active"},{"peer_id":2,"shard_id":0,"state":"Active"},{"peer_id":3,"shard_id":1,"state":"Active"},{"peer_id":1,"shard_id":1,"state":"Dead"}],"shard_count":2,"shard_transfers":[]}`
	if got != want {
		t.Fatalf("collection cluster:\n got %s\nwant %s", got, want)
	}
	e.fails("GET", "/collections/none/cluster", "", 404, "Collection `none` doesn't exist!")
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t, rest.Options{APIKey: "secret", ReadOnlyAPIKey: "reader"})
	if r := e.do("GET", "/collections", ""); r.status != 401 {
		t.Fatalf("no key: %d", r.status)
	}
	if r := e.do("GET", "/healthz", ""); r.status != 200 {
		t.Fatalf("healthz needs no key: %d", r.status)
	}
	if r := e.do("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"}}`, "api-key", "secret"); r.status != 200 {
		t.Fatalf("full key: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/collections/c/points/count", `{}`, "Authorization", "Bearer reader"); r.status != 200 {
		t.Fatalf("read-only key, read: %d %s", r.status, r.raw)
	}
	if r := e.do("PUT", "/collections/c/points", `{"points":[]}`, "api-key", "reader"); r.status != 403 {
		t.Fatalf("read-only key, write: %d", r.status)
	}
	if r := e.do("GET", "/collections", "", "api-key", "wrong"); r.status != 401 {
		t.Fatalf("wrong key: %d", r.status)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestStatusCode(t *testing.T) {
	f := func(k apierr.Kind, want int) {
		t.Helper()
		if got := rest.StatusCode(k); got != want {
			t.Errorf("%v: %d, want %d", k, got, want)
		}
	}
	f(apierr.BadRequest, 400)
	f(apierr.Unauthorized, 401)
	f(apierr.Forbidden, 403)
	f(apierr.NotFound, 404)
	f(apierr.Timeout, 408)
	f(apierr.Conflict, 409)
	f(apierr.TooLarge, 413)
	f(apierr.Validation, 422)
	f(apierr.Internal, 500)
	f(apierr.Unavailable, 503)
}
