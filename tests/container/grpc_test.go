package container

import (
	"context"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
)

const grpcCollection = "grpc_collection"

// testSeedGRPC repeats the seed's example through router-1's gRPC port
// with the official Qdrant Go client, and reads the points back over
// REST. It skips while the router does not serve gRPC.
func testSeedGRPC(t *testing.T, e *env) {
	client, err := qdrant.NewClient(&qdrant.Config{Host: "127.0.0.1", Port: e.grpcPort, SkipCompatibilityCheck: true, PoolSize: 1})
	if err != nil {
		t.Fatalf("qdrant client: %v", err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	reply, err := client.HealthCheck(hctx)
	hcancel()
	if err != nil {
		t.Skipf("router gRPC (6334) does not answer a health check (%v): not served yet", err)
	}
	t.Logf("gRPC health check: %s %s", reply.GetTitle(), reply.GetVersion())

	err = client.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName:    grpcCollection,
		VectorsConfig:     qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: dim, Distance: qdrant.Distance_Cosine}),
		ShardNumber:       qdrant.PtrOf(uint32(6)),
		ReplicationFactor: qdrant.PtrOf(uint32(2)),
	})
	if err != nil {
		t.Fatalf("create collection: %v", err)
	}
	pts := makePoints(1, 60, dim, "grpc", 7)
	var structs []*qdrant.PointStruct
	for _, p := range pts {
		structs = append(structs, &qdrant.PointStruct{
			Id:      qdrant.NewIDNum(p.ID),
			Vectors: qdrant.NewVectors(p.Vector...),
			Payload: qdrant.NewValueMap(p.Payload),
		})
	}
	if _, err := client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: grpcCollection, Wait: qdrant.PtrOf(true), Points: structs}); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	e.ledger.record(grpcCollection, pts)
	for _, p := range sample(pts, 10) {
		hits, err := client.Query(ctx, &qdrant.QueryPoints{CollectionName: grpcCollection, Query: qdrant.NewQuery(p.Vector...), Limit: qdrant.PtrOf(uint64(3))})
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		if len(hits) == 0 || hits[0].GetId().GetNum() != p.ID {
			t.Fatalf("query for point %d's vector: best hits %v", p.ID, hits)
		}
	}
	n, err := client.Count(ctx, &qdrant.CountPoints{CollectionName: grpcCollection, Exact: qdrant.PtrOf(true)})
	if err != nil || n != uint64(len(pts)) {
		t.Fatalf("count = %d, %v; want %d", n, err, len(pts))
	}
	// What gRPC wrote, REST reads (through the other router).
	if err := searchSelf(e.r2, grpcCollection, sample(pts, 5)); err != nil {
		t.Fatal(err)
	}
	if n, err := e.ledger.verify(e.r2); err != nil {
		t.Fatalf("after %d points: %v", n, err)
	}
}
