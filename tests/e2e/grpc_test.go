package e2e

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/tests/harness"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The gRPC scenario: the official Go client (github.com/qdrant/go-client)
// drives an in-process cluster through the router's gRPC port, the way an
// application does.

var cities = []string{"Berlin", "London", "Paris", "Rome", "Oslo"}

const grpcPoints = 10000

// grpcVector is point i's 4-dim vector.
func grpcVector(i int) []float32 {
	return []float32{float32(math.Cos(float64(i))), float32(math.Sin(float64(i))), float32(i%7) / 7, 1}
}

// newGRPCClient connects the official client to the cluster's router.
func newGRPCClient(t testing.TB, c *harness.Cluster) *qdrant.Client {
	t.Helper()
	host, port := splitHostPort(t, c.GRPCAddr)
	cl, err := qdrant.NewClient(&qdrant.Config{Host: host, Port: port, PoolSize: 1})
	if err != nil {
		t.Fatalf("connect the official client: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func splitHostPort(t testing.TB, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	if _, err := fmt.Sscan(addr[i+1:], &port); err != nil || i < 0 {
		t.Fatalf("bad address %q", addr)
	}
	return addr[:i], port
}

// bruteForce returns the k points (among those keep accepts) with the
// highest dot product with q, best first, ties by id, with their scores.
func bruteForce(q []float32, k int, keep func(int) bool) []hit {
	var hits []hit
	for i := 0; i < grpcPoints; i++ {
		if !keep(i) {
			continue
		}
		var s float64
		for j, x := range grpcVector(i) {
			s += float64(x) * float64(q[j])
		}
		hits = append(hits, hit{uint64(i), s})
	}
	sort.Slice(hits, func(a, b int) bool {
		if hits[a].score != hits[b].score {
			return hits[a].score > hits[b].score
		}
		return hits[a].id < hits[b].id
	})
	return hits[:min(k, len(hits))]
}

type hit struct {
	id    uint64
	score float64
}

// sameHits checks search results against brute force: the same scores at
// every rank (within float32 rounding: kernels may sum in another order)
// and, where scores are not near-equal, the same ids.
func sameHits(t *testing.T, what string, got []*qdrant.ScoredPoint, want []hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d", what, len(got), len(want))
	}
	const eps = 1e-5
	wantIDs, gotIDs := map[uint64]bool{}, map[uint64]bool{}
	for i, h := range got {
		if math.Abs(float64(h.GetScore())-want[i].score) > eps {
			t.Fatalf("%s: rank %d: got %d (%v), want %d (%v)", what, i, h.GetId().GetNum(), h.GetScore(), want[i].id, want[i].score)
		}
		gotIDs[h.GetId().GetNum()], wantIDs[want[i].id] = true, true
	}
	// Ids may differ only where the last rank ties with the next point.
	for id := range wantIDs {
		if !gotIDs[id] && math.Abs(want[len(want)-1].score-scoreOf(id, want)) > eps {
			t.Fatalf("%s: got %v, want %v", what, scoredIDs(got), want)
		}
	}
}

func scoreOf(id uint64, hits []hit) float64 {
	for _, h := range hits {
		if h.id == id {
			return h.score
		}
	}
	return math.NaN()
}

func scoredIDs(pts []*qdrant.ScoredPoint) []uint64 {
	out := make([]uint64, len(pts))
	for i, p := range pts {
		out[i] = p.GetId().GetNum()
	}
	return out
}

func TestGRPCOfficialClient(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	cl := newGRPCClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	count := func(f *qdrant.Filter) uint64 {
		t.Helper()
		n, err := cl.Count(ctx, &qdrant.CountPoints{CollectionName: "places", Filter: f})
		must("count", err)
		return n
	}
	city := func(name string) *qdrant.Filter {
		return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("city", name)}}
	}

	hc, err := cl.HealthCheck(ctx)
	must("health check", err)
	if !strings.HasPrefix(hc.GetVersion(), "1.18.") {
		t.Fatalf("health check version %q", hc.GetVersion())
	}

	must("create", cl.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "places", ShardNumber: qdrant.PtrOf(uint32(3)), ReplicationFactor: qdrant.PtrOf(uint32(2)),
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Dot}),
	}))
	for field, typ := range map[string]qdrant.FieldType{"city": qdrant.FieldType_FieldTypeKeyword, "n": qdrant.FieldType_FieldTypeInteger} {
		_, err := cl.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{CollectionName: "places", FieldName: field, FieldType: typ.Enum(), Wait: qdrant.PtrOf(true)})
		must("create index "+field, err)
	}
	for start := 0; start < grpcPoints; start += 1000 {
		var batch []*qdrant.PointStruct
		for i := start; i < start+1000; i++ {
			batch = append(batch, &qdrant.PointStruct{
				Id: qdrant.NewIDNum(uint64(i)), Vectors: qdrant.NewVectors(grpcVector(i)...),
				Payload: qdrant.NewValueMap(map[string]any{"city": cities[i%5], "n": i, "even": i%2 == 0}),
			})
		}
		res, err := cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "places", Wait: qdrant.PtrOf(true), Points: batch})
		must("upsert", err)
		if res.GetStatus() != qdrant.UpdateStatus_Completed {
			t.Fatalf("upsert status %v", res.GetStatus())
		}
	}
	if n := count(nil); n != grpcPoints {
		t.Fatalf("count %d", n)
	}
	if n := count(city("Berlin")); n != grpcPoints/5 {
		t.Fatalf("count Berlin %d", n)
	}
	if n := count(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewRange("n", &qdrant.Range{Gte: qdrant.PtrOf(9000.0)})}}); n != 1000 {
		t.Fatalf("count n >= 9000: %d", n)
	}

	// Nearest neighbours, exact, with and without a filter, against brute force.
	q := []float32{0.3, -0.8, 0.5, 0.1}
	exact := &qdrant.SearchParams{Exact: qdrant.PtrOf(true)}
	hits, err := cl.Query(ctx, &qdrant.QueryPoints{CollectionName: "places", Query: qdrant.NewQuery(q...), Limit: qdrant.PtrOf(uint64(10)), Params: exact})
	must("query", err)
	sameHits(t, "query", hits, bruteForce(q, 10, func(int) bool { return true }))
	hits, err = cl.Query(ctx, &qdrant.QueryPoints{CollectionName: "places", Query: qdrant.NewQuery(q...), Limit: qdrant.PtrOf(uint64(10)), Params: exact,
		Filter: city("Oslo"), WithPayload: qdrant.NewWithPayload(true)})
	must("query with filter", err)
	sameHits(t, "query with filter", hits, bruteForce(q, 10, func(i int) bool { return i%5 == 4 }))
	for _, h := range hits {
		if h.GetPayload()["city"].GetStringValue() != "Oslo" {
			t.Fatalf("filtered hit %v", h)
		}
	}
	// Fusion of two filtered prefetches: the best Berlin and the best Oslo
	// point, equally ranked (ties by id).
	one := qdrant.PtrOf(uint64(1))
	fused, err := cl.Query(ctx, &qdrant.QueryPoints{CollectionName: "places", Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF), Prefetch: []*qdrant.PrefetchQuery{
		{Query: qdrant.NewQuery(q...), Filter: city("Berlin"), Limit: one, Params: exact},
		{Query: qdrant.NewQuery(q...), Filter: city("Oslo"), Limit: one, Params: exact},
	}})
	must("fusion query", err)
	b, o := bruteForce(q, 1, func(i int) bool { return i%5 == 0 })[0].id, bruteForce(q, 1, func(i int) bool { return i%5 == 4 })[0].id
	if got, want := fmt.Sprint(scoredIDs(fused)), fmt.Sprint([]uint64{min(b, o), max(b, o)}); got != want {
		t.Fatalf("fusion: got %s, want %s", got, want)
	}
	legacy, err := cl.GetPointsClient().Search(ctx, &qdrant.SearchPoints{CollectionName: "places", Vector: q, Limit: 5, Params: exact})
	must("search", err)
	sameHits(t, "search", legacy.GetResult(), bruteForce(q, 5, func(int) bool { return true }))

	// Retrieve and scroll to the end.
	got, err := cl.Get(ctx, &qdrant.GetPoints{CollectionName: "places", Ids: []*qdrant.PointId{qdrant.NewIDNum(42), qdrant.NewIDNum(777)}, WithPayload: qdrant.NewWithPayload(true), WithVectors: qdrant.NewWithVectors(true)})
	must("get", err)
	if len(got) != 2 || got[0].GetPayload()["n"].GetIntegerValue() != 42 || got[1].GetPayload()["city"].GetStringValue() != cities[777%5] ||
		len(got[0].GetVectors().GetVector().GetDense().GetData()) != 4 {
		t.Fatalf("get: %v", got)
	}
	var offset *qdrant.PointId
	seen := 0
	for pages := 0; ; pages++ {
		if pages > grpcPoints/1000+1 {
			t.Fatal("scroll does not end")
		}
		page, next, err := cl.ScrollAndOffset(ctx, &qdrant.ScrollPoints{CollectionName: "places", Limit: qdrant.PtrOf(uint32(1000)), Offset: offset})
		must("scroll", err)
		for _, p := range page {
			if p.GetId().GetNum() != uint64(seen) {
				t.Fatalf("scroll: point %d at position %d", p.GetId().GetNum(), seen)
			}
			seen++
		}
		if next == nil {
			break
		}
		offset = next
	}
	if seen != grpcPoints {
		t.Fatalf("scrolled %d points", seen)
	}
	top, err := cl.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: "places", Limit: qdrant.PtrOf(uint32(3)), Filter: city("Rome"),
		OrderBy: &qdrant.OrderBy{Key: "n", Direction: qdrant.Direction_Desc.Enum()}})
	must("scroll with order_by", err)
	if len(top) != 3 || top[0].GetId().GetNum() != 9998 || top[1].GetId().GetNum() != 9993 || top[0].GetOrderValue().GetInt() != 9998 {
		t.Fatalf("scroll with order_by: %v", top)
	}

	// Payload updates and deletion by filter.
	_, err = cl.SetPayload(ctx, &qdrant.SetPayloadPoints{CollectionName: "places", Wait: qdrant.PtrOf(true),
		Payload: qdrant.NewValueMap(map[string]any{"capital": true}), PointsSelector: qdrant.NewPointsSelectorFilter(city("Paris"))})
	must("set payload", err)
	capital := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchBool("capital", true)}}
	if n := count(capital); n != grpcPoints/5 {
		t.Fatalf("count after set payload: %d", n)
	}
	_, err = cl.DeletePayload(ctx, &qdrant.DeletePayloadPoints{CollectionName: "places", Wait: qdrant.PtrOf(true), Keys: []string{"capital"},
		PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(2), qdrant.NewIDNum(7))})
	must("delete payload", err)
	if n := count(capital); n != grpcPoints/5-2 {
		t.Fatalf("count after delete payload: %d", n)
	}
	_, err = cl.Delete(ctx, &qdrant.DeletePoints{CollectionName: "places", Wait: qdrant.PtrOf(true),
		Points: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewRange("n", &qdrant.Range{Lt: qdrant.PtrOf(100.0)})}})})
	must("delete by filter", err)
	_, err = cl.Delete(ctx, &qdrant.DeletePoints{CollectionName: "places", Wait: qdrant.PtrOf(true), Points: qdrant.NewPointsSelector(qdrant.NewIDNum(500), qdrant.NewIDNum(501))})
	must("delete by ids", err)
	if n := count(nil); n != grpcPoints-102 {
		t.Fatalf("count after deletes: %d", n)
	}

	// Aliases.
	must("create alias", cl.CreateAlias(ctx, "live", "places"))
	if n, err := cl.Count(ctx, &qdrant.CountPoints{CollectionName: "live"}); err != nil || n != grpcPoints-102 {
		t.Fatalf("count through the alias: %d %v", n, err)
	}
	must("rename alias", cl.RenameAlias(ctx, "live", "current"))
	aliases, err := cl.ListAliases(ctx)
	must("list aliases", err)
	if len(aliases) != 1 || aliases[0].GetAliasName() != "current" || aliases[0].GetCollectionName() != "places" {
		t.Fatalf("aliases: %v", aliases)
	}
	must("delete alias", cl.DeleteAlias(ctx, "current"))

	// Collection and cluster info.
	info, err := cl.GetCollectionInfo(ctx, "places")
	must("collection info", err)
	params := info.GetConfig().GetParams()
	if info.GetStatus() != qdrant.CollectionStatus_Green || info.GetPointsCount() != grpcPoints-102 || params.GetShardNumber() != 3 || params.GetReplicationFactor() != 2 ||
		info.GetPayloadSchema()["city"].GetDataType() != qdrant.PayloadSchemaType_Keyword || info.GetPayloadSchema()["n"].GetPoints() != grpcPoints-102 {
		t.Fatalf("collection info: %v", info)
	}
	ci, err := cl.GetCollectionsClient().CollectionClusterInfo(ctx, &qdrant.CollectionClusterInfoRequest{CollectionName: "places"})
	must("cluster info", err)
	if ci.GetShardCount() != 3 || len(ci.GetRemoteShards()) != 6 {
		t.Fatalf("cluster info: %v", ci)
	}
	for _, r := range ci.GetRemoteShards() {
		if r.GetState() != qdrant.ReplicaState_Active {
			t.Fatalf("replica %v", r)
		}
	}

	// Errors, list and delete.
	if _, err := cl.Count(ctx, &qdrant.CountPoints{CollectionName: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown collection: %v", err)
	}
	names, err := cl.ListCollections(ctx)
	must("list", err)
	if fmt.Sprint(names) != "[places]" {
		t.Fatalf("collections: %v", names)
	}
	must("delete collection", cl.DeleteCollection(ctx, "places"))
	if ok, err := cl.CollectionExists(ctx, "places"); err != nil || ok {
		t.Fatalf("exists after delete: %v %v", ok, err)
	}
}
