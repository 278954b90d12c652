package e2e

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/tests/harness"
)

// Discovery and context search through REST (query API and the legacy
// /points/discover) and the official Go client (Query, Discover,
// DiscoverBatch), checked against a brute-force computation of Qdrant's
// scores over every point. The collections hold discoverPoints points, so
// the router's candidate set (4·limit per example) covers them all and its
// result must be exact.

const discoverPoints = 40

// discoverVector is point i's 4-dim vector (i from 1), fixed by a seed.
func discoverVector(i int) []float32 {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	v := make([]float32, 4)
	for j := range v {
		v[j] = float32(r.Float64()*2 - 1)
	}
	return v
}

// example is a point id (id > 0) or a vector.
type example struct {
	id  int
	vec []float32
}

func (e example) rest() any {
	if e.id > 0 {
		return e.id
	}
	return e.vec
}

func (e example) input() *qdrant.VectorInput {
	if e.id > 0 {
		return qdrant.NewVectorInputID(qdrant.NewIDNum(uint64(e.id)))
	}
	return qdrant.NewVectorInputDense(e.vec)
}

func (e example) legacy() *qdrant.VectorExample {
	if e.id > 0 {
		return &qdrant.VectorExample{Example: &qdrant.VectorExample_Id{Id: qdrant.NewIDNum(uint64(e.id))}}
	}
	return &qdrant.VectorExample{Example: &qdrant.VectorExample_Vector{Vector: qdrant.NewVector(e.vec...)}}
}

// discoverCase is a discovery query (target set) or a context query.
type discoverCase struct {
	collection    string
	target        *example
	pairs         [][2]example
	group         *int // filter: payload g == *group
	limit, offset int
}

// sim is Qdrant's internal similarity: cosine, or −distance² for Euclid.
func sim(collection string, a, b []float32) float64 {
	var dot, na, nb, d2 float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot, na, nb, d2 = dot+x*y, na+x*x, nb+y*y, d2+(x-y)*(x-y)
	}
	if collection == "disce" {
		return -d2
	}
	return dot / math.Sqrt(na*nb)
}

// bruteDiscover scores every point as Qdrant does and returns the page.
func bruteDiscover(dc discoverCase) []hit {
	vec := func(e example) []float32 {
		if e.id > 0 {
			return discoverVector(e.id)
		}
		return e.vec
	}
	excluded := map[int]bool{}
	for _, p := range dc.pairs {
		excluded[p[0].id], excluded[p[1].id] = true, true
	}
	if dc.target != nil {
		excluded[dc.target.id] = true
	}
	var hits []hit
	for i := 1; i <= discoverPoints; i++ {
		if excluded[i] || (dc.group != nil && i%3 != *dc.group) {
			continue
		}
		x := discoverVector(i)
		var rank, loss float64
		for _, p := range dc.pairs {
			d := sim(dc.collection, x, vec(p[0])) - sim(dc.collection, x, vec(p[1]))
			if d > 0 {
				rank++
			} else {
				rank--
			}
			loss += min(0, d)
		}
		score := loss
		if dc.target != nil {
			s := sim(dc.collection, x, vec(*dc.target))
			score = rank + 0.5*(s/(1+math.Abs(s))+1)
		}
		hits = append(hits, hit{uint64(i), score})
	}
	sort.Slice(hits, func(a, b int) bool {
		if hits[a].score != hits[b].score {
			return hits[a].score > hits[b].score
		}
		return hits[a].id < hits[b].id
	})
	hits = hits[min(dc.offset, len(hits)):]
	return hits[:min(dc.limit, len(hits))]
}

// sameRanking checks a result against brute force: the same scores at
// every rank, each returned point's own score right (so ties may come in
// either order), no point twice.
func sameRanking(t *testing.T, what string, dc discoverCase, got []hit) {
	t.Helper()
	want := bruteDiscover(dc)
	all := bruteDiscover(discoverCase{collection: dc.collection, target: dc.target, pairs: dc.pairs, group: dc.group, limit: discoverPoints})
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits %v, want %d %v", what, len(got), got, len(want), want)
	}
	const eps = 1e-4
	seen := map[uint64]bool{}
	for i, h := range got {
		own := scoreOf(h.id, all)
		if seen[h.id] || math.Abs(h.score-want[i].score) > eps || math.Abs(h.score-own) > eps {
			t.Fatalf("%s: rank %d: got %v, want %v (its own score %v)\ngot  %v\nwant %v", what, i, h, want[i], own, got, want)
		}
		seen[h.id] = true
	}
}

func TestDiscoverAgainstBruteForce(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 2})
	for name, dist := range map[string]string{"disc": "Cosine", "disce": "Euclid"} {
		c.MustOK("PUT", "/collections/"+name, map[string]any{"vectors": map[string]any{"size": 4, "distance": dist}, "shard_number": 2})
		var pts []map[string]any
		for i := 1; i <= discoverPoints; i++ {
			pts = append(pts, map[string]any{"id": i, "vector": discoverVector(i), "payload": map[string]any{"g": i % 3}})
		}
		c.MustOK("PUT", "/collections/"+name+"/points?wait=true", map[string]any{"points": pts})
	}
	cl := newGRPCClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	id := func(i int) example { return example{id: i} }
	v := func(x ...float32) example { return example{vec: x} }
	zero := 0
	cases := []discoverCase{
		{collection: "disc", target: &example{id: 1}, pairs: [][2]example{{id(2), id(3)}, {id(4), id(5)}}, limit: 10},
		{collection: "disc", target: &example{vec: []float32{0.5, -0.2, 0.1, 0.9}}, pairs: [][2]example{{v(1, 1, 0, 0), id(6)}}, group: &zero, limit: 5},
		{collection: "disc", target: &example{id: 13}, pairs: [][2]example{{id(14), id(15)}, {id(16), id(17)}, {id(18), id(19)}}, limit: 7, offset: 3},
		{collection: "disc", pairs: [][2]example{{id(7), id(8)}, {id(9), id(10)}, {id(11), id(12)}}, limit: 10},
		{collection: "disc", pairs: [][2]example{{v(0, 1, 0, 0), v(0, -1, 0, 0)}}, limit: 10, offset: 2},
		{collection: "disce", target: &example{id: 1}, pairs: [][2]example{{id(2), id(3)}}, limit: 10},
		{collection: "disce", pairs: [][2]example{{id(4), id(5)}, {id(6), id(7)}}, group: &zero, limit: 6},
	}
	f := func(i int, dc discoverCase) {
		t.Helper()
		what := fmt.Sprintf("case %d", i)

		// REST, query API.
		q := map[string]any{"limit": dc.limit, "offset": dc.offset}
		var pairs []any
		for _, p := range dc.pairs {
			pairs = append(pairs, map[string]any{"positive": p[0].rest(), "negative": p[1].rest()})
		}
		if dc.target != nil {
			q["query"] = map[string]any{"discover": map[string]any{"target": dc.target.rest(), "context": pairs}}
		} else {
			q["query"] = map[string]any{"context": pairs}
		}
		var filter map[string]any
		if dc.group != nil {
			filter = map[string]any{"must": []any{map[string]any{"key": "g", "match": map[string]any{"value": *dc.group}}}}
			q["filter"] = filter
		}
		res := obj(t, ok(t, c, "POST", "/collections/"+dc.collection+"/points/query", q))
		sameRanking(t, what+" REST query", dc, restHits(t, res["points"]))

		// REST, legacy discover and its batch.
		legacy := map[string]any{"context": pairs, "limit": dc.limit, "offset": dc.offset}
		if pairs == nil {
			legacy["context"] = []any{}
		}
		if dc.target != nil {
			legacy["target"] = dc.target.rest()
		}
		if filter != nil {
			legacy["filter"] = filter
		}
		sameRanking(t, what+" REST discover", dc, restHits(t, ok(t, c, "POST", "/collections/"+dc.collection+"/points/discover", legacy)))
		batch := list(t, ok(t, c, "POST", "/collections/"+dc.collection+"/points/discover/batch", map[string]any{"searches": []any{legacy, legacy}}))
		if len(batch) != 2 {
			t.Fatalf("%s: discover batch: %v", what, batch)
		}
		sameRanking(t, what+" REST discover batch", dc, restHits(t, batch[1]))

		// gRPC through the official client: Query, Discover, DiscoverBatch.
		var gfilter *qdrant.Filter
		if dc.group != nil {
			gfilter = &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt("g", int64(*dc.group))}}
		}
		ctxIn := &qdrant.ContextInput{}
		var legacyPairs []*qdrant.ContextExamplePair
		for _, p := range dc.pairs {
			ctxIn.Pairs = append(ctxIn.Pairs, &qdrant.ContextInputPair{Positive: p[0].input(), Negative: p[1].input()})
			legacyPairs = append(legacyPairs, &qdrant.ContextExamplePair{Positive: p[0].legacy(), Negative: p[1].legacy()})
		}
		query := qdrant.NewQueryContext(ctxIn)
		if dc.target != nil {
			query = qdrant.NewQueryDiscover(&qdrant.DiscoverInput{Target: dc.target.input(), Context: ctxIn})
		}
		limit, offset := uint64(dc.limit), uint64(dc.offset)
		got, err := cl.Query(ctx, &qdrant.QueryPoints{CollectionName: dc.collection, Query: query, Filter: gfilter, Limit: &limit, Offset: &offset})
		if err != nil {
			t.Fatalf("%s: gRPC query: %v", what, err)
		}
		sameRanking(t, what+" gRPC query", dc, grpcHits(got))
		dp := &qdrant.DiscoverPoints{CollectionName: dc.collection, Context: legacyPairs, Filter: gfilter, Limit: limit, Offset: &offset}
		if dc.target != nil {
			dp.Target = &qdrant.TargetVector{Target: &qdrant.TargetVector_Single{Single: dc.target.legacy()}}
		}
		dr, err := cl.GetPointsClient().Discover(ctx, dp)
		if err != nil {
			t.Fatalf("%s: gRPC discover: %v", what, err)
		}
		sameRanking(t, what+" gRPC discover", dc, grpcHits(dr.GetResult()))
		br, err := cl.GetPointsClient().DiscoverBatch(ctx, &qdrant.DiscoverBatchPoints{CollectionName: dc.collection, DiscoverPoints: []*qdrant.DiscoverPoints{dp, dp}})
		if err != nil || len(br.GetResult()) != 2 {
			t.Fatalf("%s: gRPC discover batch: %v %v", what, br, err)
		}
		sameRanking(t, what+" gRPC discover batch", dc, grpcHits(br.GetResult()[0].GetResult()))
	}
	for i, dc := range cases {
		f(i, dc)
	}

	// A discovery without context pairs is a nearest search by the target.
	near := ids(t, obj(t, ok(t, c, "POST", "/collections/disc/points/query", map[string]any{"query": 1, "limit": 5}))["points"])
	disc := ids(t, obj(t, ok(t, c, "POST", "/collections/disc/points/query", map[string]any{"query": map[string]any{"discover": map[string]any{"target": 1, "context": nil}}, "limit": 5}))["points"])
	if near != disc {
		t.Fatalf("discover without context: %s, nearest: %s", disc, near)
	}
	// A discovery rescoring a prefetch only ranks the prefetch's points.
	pre := list(t, obj(t, ok(t, c, "POST", "/collections/disc/points/query", map[string]any{
		"prefetch": map[string]any{"query": 20, "limit": 4},
		"query":    map[string]any{"discover": map[string]any{"target": 21, "context": []any{map[string]any{"positive": 22, "negative": 23}}}},
	}))["points"])
	nearest := obj(t, ok(t, c, "POST", "/collections/disc/points/query", map[string]any{"query": 20, "limit": 4}))["points"]
	allowed := map[float64]bool{}
	for _, p := range list(t, nearest) {
		allowed[num(t, obj(t, p)["id"])] = true
	}
	for _, p := range pre {
		if id := num(t, obj(t, p)["id"]); !allowed[id] || id == 21 || id == 22 || id == 23 {
			t.Fatalf("prefetch discover: %v not among the prefetch %v", id, nearest)
		}
	}

	// Bad input is a 4xx.
	fails(t, c, "POST", "/collections/disc/points/query", map[string]any{"query": map[string]any{"context": []any{}}}, 400, "context pair")
	fails(t, c, "POST", "/collections/disc/points/query", map[string]any{"query": map[string]any{"context": map[string]any{"positive": 1}}}, 400, "missing field `negative`")
	fails(t, c, "POST", "/collections/disc/points/query", map[string]any{"query": map[string]any{"discover": map[string]any{"target": []float32{1, 2}, "context": nil}}}, 400, "dimension")
	fails(t, c, "POST", "/collections/disc/points/discover", map[string]any{"target": 1, "context": []any{}}, 400, "missing field `limit`")
	fails(t, c, "POST", "/collections/disc/points/discover", map[string]any{"target": 999, "context": []any{}, "limit": 3}, 404, "999")
	if _, err := cl.GetPointsClient().Discover(ctx, &qdrant.DiscoverPoints{CollectionName: "disc", Limit: 3}); err == nil {
		t.Fatal("gRPC discover without target and context succeeded")
	}
}

// restHits reads REST scored points.
func restHits(t *testing.T, v any) []hit {
	t.Helper()
	var out []hit
	for _, p := range list(t, v) {
		m := obj(t, p)
		out = append(out, hit{uint64(num(t, m["id"])), num(t, m["score"])})
	}
	return out
}

// grpcHits reads gRPC scored points.
func grpcHits(pts []*qdrant.ScoredPoint) []hit {
	out := make([]hit, len(pts))
	for i, p := range pts {
		out[i] = hit{p.GetId().GetNum(), float64(p.GetScore())}
	}
	return out
}
