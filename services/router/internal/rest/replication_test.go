package rest_test

import (
	"strings"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/rest"
)

func TestReadConsistencyParameter(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":1,"replication_factor":3}`)
	e.ok("PUT", "/collections/c/points?wait=true", `{"points":[{"id":1,"vector":[1,2]},{"id":2,"vector":[2,1]}]}`)
	reads := []struct{ method, path, body string }{
		{"POST", "/collections/c/points", `{"ids":[1,2]}`},
		{"GET", "/collections/c/points/1", ``},
		{"POST", "/collections/c/points/scroll", `{}`},
		{"POST", "/collections/c/points/count", `{}`},
		{"POST", "/collections/c/points/query", `{"query":[1,1]}`},
		{"POST", "/collections/c/points/query/batch", `{"searches":[{"query":[1,1]}]}`},
		{"POST", "/collections/c/points/search", `{"vector":[1,1],"limit":3}`},
		{"POST", "/collections/c/points/search/batch", `{"searches":[{"vector":[1,1],"limit":3}]}`},
		{"POST", "/collections/c/points/recommend", `{"positive":[1],"limit":3}`},
		{"POST", "/collections/c/points/discover", `{"target":1,"context":[{"positive":1,"negative":2}],"limit":3}`},
	}
	for _, rd := range reads {
		for _, v := range []string{"1", "2", "all", "majority", "quorum"} {
			e.ok(rd.method, rd.path+"?consistency="+v, rd.body)
		}
		e.fails(rd.method, rd.path+"?consistency=most", rd.body, 400, "Query deserialize error: consistency")
		e.fails(rd.method, rd.path+"?consistency=0", rd.body, 400, "Read consistency factor cannot be less than 1")
		e.fails(rd.method, rd.path+"?consistency=4", rd.body, 503, "Read consistency `4` needs 4 replicas of shard 0")
	}
	if got := e.ok("POST", "/collections/c/points/count?consistency=all", `{}`); got != `{"count":2}` {
		t.Fatalf("count: %s", got)
	}
	// Every replica was asked.
	for _, s := range e.fc.Storage {
		if s.Calls("Count") == 0 {
			t.Errorf("node %d never counted", s.NodeID)
		}
	}
	e.fc.Storage[2].SetDown(true)
	e.ok("POST", "/collections/c/points/count?consistency=majority", `{}`)
	e.fails("POST", "/collections/c/points/count?consistency=all", `{}`, 503, "Read consistency `all` needs 3 replicas of shard 0 to answer, 2 did")
	// Writes ignore the parameter.
	e.ok("PUT", "/collections/c/points?consistency=bogus", `{"points":[{"id":3,"vector":[1,2]}]}`)
}

func TestRateLimitedWriteIs429(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":1,"replication_factor":2}`)
	e.fc.Storage[0].SetRateLimited(true)
	r := e.do("PUT", "/collections/c/points", `{"points":[{"id":1,"vector":[1,2]}]}`)
	if r.status != 429 || r.header.Get("Retry-After") != "1" || !strings.HasPrefix(r.err(), "Rate limiting exceeded: ") {
		t.Fatalf("got %d %v %s", r.status, r.header, r.raw)
	}
}

func TestDigestsEndpoint(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":2,"replication_factor":2}`)
	e.ok("PUT", "/collections/c/points?wait=true", `{"points":[{"id":1,"vector":[1,2]},{"id":2,"vector":[2,1],"payload":{"a":1}},{"id":3,"vector":[0,1]}]}`)
	got := e.ok("GET", "/debug/collections/c/digests", "")
	for _, want := range []string{`"collection":"c"`, `"shard_id":0`, `"shard_id":1`, `"consistent":true`, `"primary":true`, `"primary":false`, `"state":"Active"`, `"digest":"`} {
		if !strings.Contains(got, want) {
			t.Errorf("digests lack %s: %s", want, got)
		}
	}
	if strings.Contains(got, `"consistent":false`) || strings.Contains(got, `"error"`) {
		t.Fatalf("replicas differ: %s", got)
	}
	// A replica with a point the others lack has another digest.
	c, m, _ := e.fc.State.Collection("c")
	follower := m.Shards[0].Replicas[1].NodeId
	e.fc.Storage[follower-1].Put(c.Uid, 0, &shoalv1.Point{Id: pointid.Num(99), Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{1, 1}}}})
	got = e.ok("GET", "/debug/collections/c/digests", "")
	if !strings.Contains(got, `"consistent":false`) || !strings.Contains(got, `"consistent":true`) {
		t.Fatalf("digests with shard 0 differing: %s", got)
	}
	e.fc.Storage[follower-1].SetDown(true)
	got = e.ok("GET", "/debug/collections/c/digests", "")
	if !strings.Contains(got, `"error":"Service unavailable: digest on shard`) {
		t.Fatalf("digests with a node down: %s", got)
	}
	e.fails("GET", "/debug/collections/none/digests", "", 404, "Collection `none` doesn't exist!")
}
