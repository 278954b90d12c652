package rest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/rest"
)

// queryIDs runs a query and returns the ids of its points.
func queryIDs(e *env, body string) string {
	e.t.Helper()
	var res struct {
		Points []struct {
			ID    any     `json:"id"`
			Score float64 `json:"score"`
		} `json:"points"`
	}
	if err := json.Unmarshal([]byte(e.ok("POST", "/collections/c/points/query", body)), &res); err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, p := range res.Points {
		ids = append(ids, fmt.Sprint(p.ID))
	}
	return strings.Join(ids, " ")
}

// The seeded points are (i, 1) for i = 1..6 under Dot.
func TestQueryVariants(t *testing.T) {
	e := newEnv(t, rest.Options{})
	seed(e)
	f := func(name, body, want string) {
		t.Helper()
		if got := queryIDs(e, body); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	// average_vector: 2·(6,1) − (1,1) = (11,1); the examples are left out.
	f("recommend average", `{"query":{"recommend":{"positive":[6],"negative":[1]}},"limit":3}`, "5 4 3")
	f("recommend with a vector example", `{"query":{"recommend":{"positive":[[1,0]]}},"limit":2}`, "6 5")
	// best_score: every point is closer to 6 than to 2, so −(6i+1)² ranks
	// the smallest i first.
	f("recommend best_score", `{"query":{"recommend":{"positive":[2],"negative":[6],"strategy":"best_score"}},"limit":3}`, "1 3 4")
	f("recommend sum_scores", `{"query":{"recommend":{"positive":[2],"negative":[6],"strategy":"sum_scores"}},"limit":3}`, "1 3 4")
	f("best_score without negatives", `{"query":{"recommend":{"positive":[4],"strategy":"best_score"}},"limit":2}`, "6 5")
	// Fusion of (6,5,4) and (1,2,3): equal ranks tie, ties by id.
	fusion := `{"prefetch":[{"query":[1,0],"limit":3},{"query":[-1,0],"limit":3}],"query":{"fusion":"%s"},"limit":6}`
	f("rrf", fmt.Sprintf(fusion, "rrf"), "1 6 2 5 3 4")
	f("dbsf", fmt.Sprintf(fusion, "dbsf"), "1 6 2 5 3 4")
	f("weighted rrf", `{"prefetch":[{"query":[1,0],"limit":3},{"query":[-1,0],"limit":3}],"query":{"rrf":{"weights":[3,1]}},"limit":3}`, "6 5 1")
	f("fusion with offset", `{"prefetch":[{"query":[1,0],"limit":3},{"query":[-1,0],"limit":3}],"query":{"fusion":"rrf"},"limit":2,"offset":2}`, "2 5")
	// Rescoring the candidates of a prefetch.
	f("nearest over a prefetch", `{"prefetch":{"query":[-1,0],"limit":3},"query":[1,0],"limit":2}`, "3 2")
	f("order_by over a prefetch", `{"prefetch":{"query":[-1,0],"limit":3},"query":{"order_by":{"key":"i","direction":"desc"}}}`, "3 2 1")
	f("prefetch with a filter", `{"prefetch":{"query":[1,0],"limit":2,"filter":{"must":[{"key":"even","match":{"value":false}}]}},"query":[-1,0]}`, "3 5")
	f("outer filter applies to prefetches", `{"prefetch":{"query":[1,0],"limit":2},"filter":{"must":[{"key":"even","match":{"value":true}}]},"query":[1,0]}`, "6 4")
	f("one prefetch without a query", `{"prefetch":{"query":[1,0],"limit":2}}`, "6 5")
	f("nested prefetches", `{"prefetch":{"prefetch":[{"query":[1,0],"limit":4}],"query":[-1,0],"limit":2},"query":{"order_by":"i"}}`, "3 4")
	f("order_by", `{"query":{"order_by":{"key":"i","direction":"desc"}},"limit":2}`, "6 5")

	got := e.ok("POST", "/collections/c/points/query", `{"prefetch":[{"query":[1,0],"limit":1},{"query":[-1,0],"limit":1}],"query":{"fusion":"rrf"},"with_payload":["i"],"with_vector":true}`)
	if got != `{"points":[{"id":1,"payload":{"i":1},"score":0.5,"vector":[1,1],"version":1},{"id":6,"payload":{"i":6},"score":0.5,"vector":[6,1],"version":1}]}` {
		t.Fatalf("fused points with payload and vectors: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/query", `{"query":{"order_by":"i"},"limit":1}`)
	if !strings.Contains(got, `"order_value":1`) {
		t.Fatalf("order_by query without order_value: %s", got)
	}
	sample := strings.Fields(queryIDs(e, `{"query":{"sample":"random"},"limit":4}`))
	seen := map[string]bool{}
	for _, id := range sample {
		seen[id] = true
	}
	if len(sample) != 4 || len(seen) != 4 {
		t.Fatalf("sample: %v", sample)
	}

	e.fails("POST", "/collections/c/points/query", `{"query":{"fusion":"rrf"}}`, 400, "Fusion queries need prefetches")
	e.fails("POST", "/collections/c/points/query", `{"query":{"recommend":{"negative":[1]}}}`, 400, "At least one positive")
	e.fails("POST", "/collections/c/points/query", `{"query":{"recommend":{"positive":[99]}}}`, 404, "Point with id 99 does not exists!")
	e.fails("POST", "/collections/c/points/query", `{"query":{"recommend":{"positive":[1],"strategy":"best"}}}`, 400, "unknown variant `best`")
	e.fails("POST", "/collections/c/points/query", `{"prefetch":[{"query":[1,0]}],"query":{"rrf":{"weights":[1,2]}}}`, 400, "Number of weights")
	e.fails("POST", "/collections/c/points/query", `{"prefetch":[{"query":[1,0]},{"query":[0,1]}]}`, 400, "A query is needed")
	e.fails("POST", "/collections/c/points/query", `{"prefetch":{"query":[1,0,0]},"query":[1,0]}`, 400, "expected dim: 2, got 3")
	e.fails("POST", "/collections/c/points/query", `{"prefetch":{"query":[1,0],"limit":0},"query":[1,0]}`, 422, "limit")
}

func TestBatchesAndLegacyRecommend(t *testing.T) {
	e := newEnv(t, rest.Options{})
	seed(e)
	got := e.ok("POST", "/collections/c/points/query/batch", `{"searches":[{"query":[1,0],"limit":1},{"query":{"order_by":"i"},"limit":2,"with_payload":false}]}`)
	if got != `[{"points":[{"id":6,"payload":null,"score":6,"vector":null,"version":1}]},{"points":[{"id":1,"order_value":1,"payload":null,"score":0,"vector":null,"version":1},{"id":2,"order_value":2,"payload":null,"score":0,"vector":null,"version":1}]}]` {
		t.Fatalf("query batch: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/search/batch", `{"searches":[{"vector":[1,0],"limit":1},{"vector":[-1,0],"top":2}]}`)
	if !strings.HasPrefix(got, `[[{"id":6,`) || !strings.Contains(got, `[{"id":1,`) || strings.Count(got, `"id"`) != 3 {
		t.Fatalf("search batch: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/recommend", `{"positive":[6],"negative":[1],"limit":2,"with_payload":true}`)
	if !strings.HasPrefix(got, `[{"id":5,"payload":{"even":false,"i":5}`) || strings.Count(got, `"id"`) != 2 {
		t.Fatalf("recommend: %s", got)
	}
	got = e.ok("POST", "/collections/c/points/recommend/batch", `{"searches":[{"positive":[6],"limit":1},{"positive":[1],"strategy":"best_score","limit":1}]}`)
	if !strings.HasPrefix(got, `[[{"id":5,`) || strings.Count(got, `"id"`) != 2 {
		t.Fatalf("recommend batch: %s", got)
	}
	e.fails("POST", "/collections/c/points/recommend", `{"positive":[6]}`, 400, "missing field `limit`")
	e.fails("POST", "/collections/c/points/query/batch", `{"searches":[{"query":[1]}]}`, 400, "expected dim: 2, got 1")
	e.fails("POST", "/collections/c/points/search/batch", `{}`, 400, "missing field `searches`")
}
