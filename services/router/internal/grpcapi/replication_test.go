package grpcapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"google.golang.org/grpc/codes"
)

func TestReadConsistencyAndRateLimit(t *testing.T) {
	cl, fc, _ := serve(t, apikey.Keys{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cl.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "c", ShardNumber: qdrant.PtrOf(uint32(1)), ReplicationFactor: qdrant.PtrOf(uint32(3)),
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot}),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: qdrant.PtrOf(true), Points: []*qdrant.PointStruct{
		{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 2)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	count := func(rc *qdrant.ReadConsistency) (uint64, error) {
		return cl.Count(ctx, &qdrant.CountPoints{CollectionName: "c", ReadConsistency: rc})
	}
	for _, rc := range []*qdrant.ReadConsistency{
		nil, qdrant.NewReadConsistencyFactor(2), qdrant.NewReadConsistencyType(qdrant.ReadConsistencyType_All),
		qdrant.NewReadConsistencyType(qdrant.ReadConsistencyType_Majority), qdrant.NewReadConsistencyType(qdrant.ReadConsistencyType_Quorum),
	} {
		if n, err := count(rc); err != nil || n != 1 {
			t.Errorf("%v: %d, %v", rc, n, err)
		}
	}
	if _, err := count(qdrant.NewReadConsistencyFactor(0)); code(err) != codes.InvalidArgument {
		t.Errorf("factor 0: %v", err)
	}
	fc.Storage[2].SetDown(true)
	if _, err := count(qdrant.NewReadConsistencyType(qdrant.ReadConsistencyType_All)); code(err) != codes.Unavailable || !strings.Contains(err.Error(), "Read consistency `all`") {
		t.Errorf("all with a node down: %v", err)
	}
	if _, err := count(qdrant.NewReadConsistencyType(qdrant.ReadConsistencyType_Majority)); err != nil {
		t.Errorf("majority with a node down: %v", err)
	}
	fc.Storage[0].SetRateLimited(true)
	_, err = cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Points: []*qdrant.PointStruct{{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectors(1, 2)}}})
	if code(err) != codes.ResourceExhausted {
		t.Fatalf("rate limited upsert: %v", err)
	}
}
