package grpcapi_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/grpcreflect"
	"github.com/qdrant/go-client/qdrant"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/grpcapi"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type noConsensus struct{}

func (noConsensus) Status(context.Context) (service.RaftInfo, error) { return service.RaftInfo{}, nil }

// serve runs the gRPC API over a fake cluster of three storage nodes on a
// loopback h2c server and returns the official client connected to it.
func serve(t *testing.T, keys apikey.Keys) (*qdrant.Client, *fake.Cluster, string) {
	t.Helper()
	fc := fake.NewCluster(3)
	svc := service.New(service.Options{
		NodeID: 7, State: fc.State, Aliases: fc.Aliases, Router: routing.New(fc.State, fc.Dialer(), nil), Meta: fc,
		Consensus: noConsensus{}, Log: zerolog.Nop(),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: grpcapi.New(svc, grpcapi.Options{Keys: keys, Log: zerolog.Nop()}), Protocols: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	cl, err := qdrant.NewClient(&qdrant.Config{Host: "127.0.0.1", Port: port, APIKey: keys.Full, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl, fc, "http://127.0.0.1:" + strconv.Itoa(port)
}

func code(err error) codes.Code { return status.Code(err) }

func TestOfficialClient(t *testing.T) {
	cl, _, _ := serve(t, apikey.Keys{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	hc, err := cl.HealthCheck(ctx)
	if err != nil || hc.GetVersion() != "1.18.0" || hc.GetTitle() != "qdrant - vector search engine" {
		t.Fatalf("health check: %v %v", hc, err)
	}
	err = cl.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "c", ShardNumber: qdrant.PtrOf(uint32(3)),
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot}),
		HnswConfig:    &qdrant.HnswConfigDiff{M: qdrant.PtrOf(uint64(32))},
	})
	if err != nil {
		t.Fatal(err)
	}
	var pts []*qdrant.PointStruct
	for i := 1; i <= 10; i++ {
		pts = append(pts, &qdrant.PointStruct{
			Id: qdrant.NewIDNum(uint64(i)), Vectors: qdrant.NewVectors(float32(i), 1),
			Payload: qdrant.NewValueMap(map[string]any{"i": i, "even": i%2 == 0, "tags": []any{"a", "b"}, "f": 0.5}),
		})
	}
	res, err := cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: qdrant.PtrOf(true), Points: pts})
	if err != nil || res.GetStatus() != qdrant.UpdateStatus_Completed {
		t.Fatalf("upsert: %v %v", res, err)
	}
	got, err := cl.Get(ctx, &qdrant.GetPoints{CollectionName: "c", Ids: []*qdrant.PointId{qdrant.NewIDNum(3)}, WithVectors: qdrant.NewWithVectors(true)})
	if err != nil || len(got) != 1 || got[0].GetPayload()["i"].GetIntegerValue() != 3 || got[0].GetPayload()["f"].GetDoubleValue() != 0.5 ||
		len(got[0].GetPayload()["tags"].GetListValue().GetValues()) != 2 || got[0].GetVectors().GetVector().GetDense().GetData()[0] != 3 {
		t.Fatalf("get: %v %v", got, err)
	}
	even := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchBool("even", true)}}
	hits, err := cl.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Query: qdrant.NewQuery(1, 0), Filter: even, Limit: qdrant.PtrOf(uint64(2))})
	if err != nil || len(hits) != 2 || hits[0].GetId().GetNum() != 10 || hits[1].GetId().GetNum() != 8 {
		t.Fatalf("query with filter: %v %v", hits, err)
	}
	n, err := cl.Count(ctx, &qdrant.CountPoints{CollectionName: "c", Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewRange("i", &qdrant.Range{Gte: qdrant.PtrOf(7.0)})}}})
	if err != nil || n != 4 {
		t.Fatalf("count with filter: %d %v", n, err)
	}
	page, next, err := cl.ScrollAndOffset(ctx, &qdrant.ScrollPoints{CollectionName: "c", Limit: qdrant.PtrOf(uint32(4))})
	if err != nil || len(page) != 4 || next.GetNum() != 5 || page[0].GetPayload()["i"] == nil {
		t.Fatalf("scroll: %v %v %v", page, next, err)
	}
	ordered, err := cl.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: "c", Limit: qdrant.PtrOf(uint32(2)),
		OrderBy: &qdrant.OrderBy{Key: "i", Direction: qdrant.Direction_Desc.Enum()}})
	if err != nil || len(ordered) != 2 || ordered[0].GetId().GetNum() != 10 || ordered[0].GetOrderValue().GetInt() != 10 {
		t.Fatalf("scroll with order_by: %v %v", ordered, err)
	}
	if _, err := cl.SetPayload(ctx, &qdrant.SetPayloadPoints{CollectionName: "c", Wait: qdrant.PtrOf(true),
		Payload: qdrant.NewValueMap(map[string]any{"tag": "x"}), PointsSelector: qdrant.NewPointsSelectorFilter(even)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := cl.Count(ctx, &qdrant.CountPoints{CollectionName: "c", Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("tag", "x")}}}); n != 5 {
		t.Fatalf("count after set payload by filter: %d", n)
	}
	if _, err := cl.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{CollectionName: "c", FieldName: "i", FieldType: qdrant.FieldType_FieldTypeInteger.Enum(), Wait: qdrant.PtrOf(true)}); err != nil {
		t.Fatal(err)
	}
	info, err := cl.GetCollectionInfo(ctx, "c")
	if err != nil || info.GetPointsCount() != 10 || info.GetStatus() != qdrant.CollectionStatus_Green ||
		info.GetPayloadSchema()["i"].GetDataType() != qdrant.PayloadSchemaType_Integer || info.GetConfig().GetHnswConfig().GetM() != 32 ||
		info.GetConfig().GetParams().GetShardNumber() != 3 || info.GetConfig().GetParams().GetVectorsConfig().GetParams().GetSize() != 2 {
		t.Fatalf("collection info: %v %v", info, err)
	}
	if _, err := cl.Delete(ctx, &qdrant.DeletePoints{CollectionName: "c", Wait: qdrant.PtrOf(true), Points: qdrant.NewPointsSelectorFilter(even)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := cl.Count(ctx, &qdrant.CountPoints{CollectionName: "c"}); n != 5 {
		t.Fatalf("count after delete by filter: %d", n)
	}
	if err := cl.CreateAlias(ctx, "prod", "c"); err != nil {
		t.Fatal(err)
	}
	if n, err := cl.Count(ctx, &qdrant.CountPoints{CollectionName: "prod"}); err != nil || n != 5 {
		t.Fatalf("count through an alias: %d %v", n, err)
	}
	aliases, err := cl.ListCollectionAliases(ctx, "c")
	if err != nil || len(aliases) != 1 || aliases[0] != "prod" {
		t.Fatalf("aliases: %v %v", aliases, err)
	}
	names, err := cl.ListCollections(ctx)
	if err != nil || len(names) != 1 || names[0] != "c" {
		t.Fatalf("list: %v %v", names, err)
	}

	// Errors carry Qdrant's status codes and messages.
	_, err = cl.Count(ctx, &qdrant.CountPoints{CollectionName: "nope"})
	if code(err) != codes.NotFound {
		t.Fatalf("unknown collection: %v", err)
	}
	_, err = cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Points: []*qdrant.PointStruct{{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1)}}})
	if code(err) != codes.InvalidArgument {
		t.Fatalf("wrong dimension: %v", err)
	}
	// Shard keys belong to collections with custom sharding only.
	_, err = cl.GetCollectionsClient().CreateShardKey(ctx, &qdrant.CreateShardKeyRequest{CollectionName: "c", Request: &qdrant.CreateShardKey{ShardKey: qdrant.NewShardKey("a")}})
	if code(err) != codes.InvalidArgument {
		t.Fatalf("shard key on an auto-sharded collection: %v", err)
	}
	if err := cl.DeleteCollection(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if ok, err := cl.CollectionExists(ctx, "c"); err != nil || ok {
		t.Fatalf("exists after delete: %v %v", ok, err)
	}
}

func TestHealthReflectionAndKeys(t *testing.T) {
	cl, _, base := serve(t, apikey.Keys{Full: "secret", ReadOnly: "reader"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	hr, err := grpc_health_v1.NewHealthClient(cl.GetGrpcClient().Conn()).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "qdrant.Points"})
	if err != nil || hr.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("grpc.health.v1: %v %v", hr, err)
	}

	// Reflection describes the Qdrant services from the client's
	// registered descriptors.
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	rc := grpcreflect.NewClient(&http.Client{Transport: &http.Transport{Protocols: h2c}}, base)
	stream := rc.NewStream(ctx)
	defer stream.Close()
	services, err := stream.ListServices()
	if err != nil || len(services) != 5 { // health and the four Qdrant services
		t.Fatalf("reflection services: %v %v", services, err)
	}
	files, err := stream.FileContainingSymbol("qdrant.Points")
	if err != nil || len(files) == 0 || files[0].GetPackage() != "qdrant" || len(files[0].GetService()) != 1 || len(files[0].GetService()[0].GetMethod()) < 20 {
		t.Fatalf("reflection of qdrant.Points: %v", err)
	}

	// Keys: the read-only key reads but cannot write; no key fails; the
	// health check needs none.
	readOnly := metadata.AppendToOutgoingContext(ctx, "api-key", "reader")
	if _, err := cl.GetCollectionsClient().List(readOnly, &qdrant.ListCollectionsRequest{}); err != nil {
		t.Fatalf("read with the read-only key: %v", err)
	}
	_, err = cl.GetCollectionsClient().Delete(readOnly, &qdrant.DeleteCollection{CollectionName: "x"})
	if code(err) != codes.PermissionDenied {
		t.Fatalf("write with the read-only key: %v", err)
	}
	_, err = cl.GetCollectionsClient().List(metadata.AppendToOutgoingContext(ctx, "api-key", "wrong"), &qdrant.ListCollectionsRequest{})
	if code(err) != codes.Unauthenticated {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := qdrant.NewQdrantClient(cl.GetGrpcClient().Conn()).HealthCheck(metadata.AppendToOutgoingContext(ctx, "api-key", "wrong"), &qdrant.HealthCheckRequest{}); err != nil {
		t.Fatalf("health check without a valid key: %v", err)
	}
}

func TestQueryVariantsOverGRPC(t *testing.T) {
	cl, _, _ := serve(t, apikey.Keys{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "c", VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot})}); err != nil {
		t.Fatal(err)
	}
	var pts []*qdrant.PointStruct
	for i := 1; i <= 6; i++ {
		pts = append(pts, &qdrant.PointStruct{Id: qdrant.NewIDNum(uint64(i)), Vectors: qdrant.NewVectors(float32(i), 1), Payload: qdrant.NewValueMap(map[string]any{"i": i})})
	}
	if _, err := cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: qdrant.PtrOf(true), Points: pts}); err != nil {
		t.Fatal(err)
	}
	ids := func(hits []*qdrant.ScoredPoint) string {
		var s []string
		for _, h := range hits {
			s = append(s, strconv.FormatUint(h.GetId().GetNum(), 10))
		}
		return strings.Join(s, " ")
	}
	f := func(name string, q *qdrant.QueryPoints, want string) {
		t.Helper()
		q.CollectionName = "c"
		hits, err := cl.Query(ctx, q)
		if err != nil || ids(hits) != want {
			t.Errorf("%s: got %q (%v), want %q", name, ids(hits), err, want)
		}
	}
	limit := func(n uint64) *uint64 { return &n }
	f("recommend", &qdrant.QueryPoints{Query: qdrant.NewQueryRecommend(&qdrant.RecommendInput{
		Positive: []*qdrant.VectorInput{qdrant.NewVectorInputID(qdrant.NewIDNum(6))}, Negative: []*qdrant.VectorInput{qdrant.NewVectorInputID(qdrant.NewIDNum(1))}}), Limit: limit(3)}, "5 4 3")
	f("best_score", &qdrant.QueryPoints{Query: qdrant.NewQueryRecommend(&qdrant.RecommendInput{
		Positive: []*qdrant.VectorInput{qdrant.NewVectorInputID(qdrant.NewIDNum(2))}, Negative: []*qdrant.VectorInput{qdrant.NewVectorInputID(qdrant.NewIDNum(6))},
		Strategy: qdrant.RecommendStrategy_BestScore.Enum()}), Limit: limit(3)}, "1 3 4")
	prefetch := []*qdrant.PrefetchQuery{{Query: qdrant.NewQuery(1, 0), Limit: limit(3)}, {Query: qdrant.NewQuery(-1, 0), Limit: limit(3)}}
	f("rrf", &qdrant.QueryPoints{Prefetch: prefetch, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF), Limit: limit(6)}, "1 6 2 5 3 4")
	f("dbsf", &qdrant.QueryPoints{Prefetch: prefetch, Query: qdrant.NewQueryFusion(qdrant.Fusion_DBSF), Limit: limit(2)}, "1 6")
	f("rescore", &qdrant.QueryPoints{Prefetch: prefetch[1:], Query: qdrant.NewQuery(1, 0), Limit: limit(2)}, "3 2")
	f("order_by", &qdrant.QueryPoints{Query: qdrant.NewQueryOrderBy(&qdrant.OrderBy{Key: "i", Direction: qdrant.Direction_Desc.Enum()}), Limit: limit(2)}, "6 5")
	hits, err := cl.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Query: qdrant.NewQuerySample(qdrant.Sample_Random), Limit: limit(3)})
	if err != nil || len(hits) != 3 {
		t.Fatalf("sample: %v %v", hits, err)
	}
	rec, err := cl.GetPointsClient().Recommend(ctx, &qdrant.RecommendPoints{CollectionName: "c", Positive: []*qdrant.PointId{qdrant.NewIDNum(6)}, Limit: 2})
	if err != nil || ids(rec.GetResult()) != "5 4" {
		t.Fatalf("legacy recommend: %v %v", rec, err)
	}
	sb, err := cl.GetPointsClient().SearchBatch(ctx, &qdrant.SearchBatchPoints{CollectionName: "c", SearchPoints: []*qdrant.SearchPoints{{Vector: []float32{1, 0}, Limit: 1}, {Vector: []float32{-1, 0}, Limit: 1}}})
	if err != nil || len(sb.GetResult()) != 2 || ids(sb.GetResult()[1].GetResult()) != "1" {
		t.Fatalf("search batch: %v %v", sb, err)
	}
	_, err = cl.Query(ctx, &qdrant.QueryPoints{CollectionName: "c", Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF)})
	if code(err) != codes.InvalidArgument {
		t.Fatalf("fusion without prefetch: %v", err)
	}

	groups, err := cl.QueryGroups(ctx, &qdrant.QueryPointGroups{CollectionName: "c", Query: qdrant.NewQuery(-1, 0), GroupBy: "i", GroupSize: qdrant.PtrOf(uint64(1)), Limit: limit(2)})
	if err != nil || len(groups) != 2 || groups[0].GetId().GetIntegerValue() != 1 || ids(groups[1].GetHits()) != "2" {
		t.Fatalf("query groups: %v %v", groups, err)
	}
	facet, err := cl.Facet(ctx, &qdrant.FacetCounts{CollectionName: "c", Key: "i", Limit: limit(2)})
	if err != nil || len(facet) != 2 || facet[0].GetValue().GetIntegerValue() != 1 || facet[0].GetCount() != 1 {
		t.Fatalf("facet: %v %v", facet, err)
	}
	pairs, err := cl.SearchMatrixPairs(ctx, &qdrant.SearchMatrixPoints{CollectionName: "c", Sample: qdrant.PtrOf(uint64(6)), Limit: qdrant.PtrOf(uint64(1))})
	if err != nil || len(pairs.GetPairs()) != 6 {
		t.Fatalf("matrix pairs: %v %v", pairs, err)
	}
	offsets, err := cl.SearchMatrixOffsets(ctx, &qdrant.SearchMatrixPoints{CollectionName: "c", Sample: qdrant.PtrOf(uint64(4)), Limit: qdrant.PtrOf(uint64(2))})
	if err != nil || len(offsets.GetIds()) != 4 || len(offsets.GetOffsetsRow()) != 8 || len(offsets.GetScores()) != 8 {
		t.Fatalf("matrix offsets: %v %v", offsets, err)
	}
}
