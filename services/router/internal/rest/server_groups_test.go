package rest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/rest"
)

// The seeded points are (i, 1) for i = 1..6 under Dot, with payload
// {"i": i, "even": i%2 == 0}.
func TestGroupsFacetAndMatrix(t *testing.T) {
	e := newEnv(t, rest.Options{})
	seed(e)
	e.ok("POST", "/collections/c/points/payload?wait=true", `{"payload":{"tags":["x","y"]},"points":[6,5]}`)
	e.ok("POST", "/collections/c/points/payload?wait=true", `{"payload":{"tags":"x"},"points":[1]}`)

	got := e.ok("POST", "/collections/c/points/query/groups", `{"query":[1,0],"group_by":"even","group_size":2,"limit":2}`)
	if got != `{"groups":[]}` {
		t.Fatalf("groups by a bool field: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/query/groups", `{"query":[1,0],"group_by":"tags","group_size":2,"with_payload":["i"]}`)
	want := `{"groups":[{"hits":[{"id":6,"payload":{"i":6},"score":6,"vector":null,"version":1},{"id":5,"payload":{"i":5},"score":5,"vector":null,"version":1}],"id":"x"},` +
		`{"hits":[{"id":6,"payload":{"i":6},"score":6,"vector":null,"version":1},{"id":5,"payload":{"i":5},"score":5,"vector":null,"version":1}],"id":"y"}]}`
	if got != want {
		t.Fatalf("query groups:\n got %s\nwant %s", got, want)
	}
	got = e.ok("POST", "/collections/c/points/query/groups", `{"query":[-1,0],"group_by":"i","group_size":1,"limit":3}`)
	if !strings.HasPrefix(got, `{"groups":[{"hits":[{"id":1,`) || !strings.Contains(got, `"id":3}]}`) || strings.Count(got, `"hits"`) != 3 {
		t.Fatalf("groups by an integer field: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/search/groups", `{"vector":[1,0],"group_by":"tags","group_size":1,"limit":1}`)
	if got != `{"groups":[{"hits":[{"id":6,"payload":null,"score":6,"vector":null,"version":1}],"id":"x"}]}` {
		t.Fatalf("search groups: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/recommend/groups", `{"positive":[6],"group_by":"tags","group_size":3,"limit":5}`)
	if got != `{"groups":[{"hits":[{"id":5,"payload":null,"score":31,"vector":null,"version":1},{"id":1,"payload":null,"score":7,"vector":null,"version":1}],"id":"x"},{"hits":[{"id":5,"payload":null,"score":31,"vector":null,"version":1}],"id":"y"}]}` {
		t.Fatalf("recommend groups: %s", got)
	}
	e.fails("POST", "/collections/c/points/query/groups", `{"query":[1,0]}`, 400, "missing field `group_by`")
	e.fails("POST", "/collections/c/points/search/groups", `{"vector":[1,0],"group_by":"i","limit":1}`, 400, "missing field `group_size`")
	e.fails("POST", "/collections/c/points/query/groups", `{"group_by":"i","with_lookup":"other"}`, 404, "Collection `other` doesn't exist")
	e.fails("POST", "/collections/c/points/query/groups", `{"group_by":"i","with_lookup":{"with_payload":true}}`, 400, "missing field `collection`")
	e.fails("POST", "/collections/c/points/query/groups", `{"group_by":"i","with_lookup":7}`, 400, "expected an object")

	got = e.ok("POST", "/collections/c/facet", `{"key":"tags"}`)
	if got != `{"hits":[{"count":3,"value":"x"},{"count":2,"value":"y"}]}` {
		t.Fatalf("facet: %s", got)
	}
	got = e.ok("POST", "/collections/c/facet", `{"key":"even","filter":{"must":[{"key":"i","range":{"gte":3}}]},"limit":1}`)
	if got != `{"hits":[{"count":2,"value":false}]}` && got != `{"hits":[{"count":2,"value":true}]}` {
		t.Fatalf("facet with filter and limit: %s", got)
	}
	e.fails("POST", "/collections/c/facet", `{}`, 400, "missing field `key`")

	got = e.ok("POST", "/collections/c/points/search/matrix/pairs", `{"sample":6,"limit":1}`)
	if strings.Count(got, `"a":`) != 6 || !strings.Contains(got, `{"a":5,"b":6,"score":31}`) || !strings.Contains(got, `{"a":6,"b":5,"score":31}`) {
		t.Fatalf("matrix pairs: %s", got)
	}
	var off struct {
		Rows   []int     `json:"offsets_row"`
		Cols   []int     `json:"offsets_col"`
		Scores []float64 `json:"scores"`
		IDs    []int     `json:"ids"`
	}
	if err := json.Unmarshal([]byte(e.ok("POST", "/collections/c/points/search/matrix/offsets", `{"sample":3,"limit":2}`)), &off); err != nil {
		t.Fatal(err)
	}
	if len(off.IDs) != 3 || len(off.Rows) != 6 || len(off.Cols) != 6 || len(off.Scores) != 6 {
		t.Fatalf("matrix offsets: %+v", off)
	}
	for i := range off.Rows {
		a, b := off.IDs[off.Rows[i]], off.IDs[off.Cols[i]]
		if a == b || off.Scores[i] != float64(a*b+1) {
			t.Fatalf("matrix offsets entry %d: %d-%d %v", i, a, b, off.Scores[i])
		}
	}
	e.fails("POST", "/collections/c/points/search/matrix/pairs", `{"sample":1}`, 422, "sample")
}
