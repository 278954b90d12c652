package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"google.golang.org/grpc/codes"
)

// TestShardKeyClusterOperations creates and deletes shard keys through
// UpdateCollectionClusterSetup and checks initial_state's conversion.
func TestShardKeyClusterOperations(t *testing.T) {
	cl, _, _ := serve(t, apikey.Keys{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cl.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "c", ShardingMethod: qdrant.ShardingMethod_Custom.Enum(),
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot}),
	})
	if err != nil {
		t.Fatal(err)
	}
	setup := func(req *qdrant.UpdateCollectionClusterSetupRequest) error {
		req.CollectionName = "c"
		return cl.UpdateClusterCollectionSetup(ctx, req)
	}
	deleteKey := func(k *qdrant.DeleteShardKey) error {
		return setup(&qdrant.UpdateCollectionClusterSetupRequest{Operation: &qdrant.UpdateCollectionClusterSetupRequest_DeleteShardKey{DeleteShardKey: k}})
	}
	keys := func() []string {
		t.Helper()
		ks, err := cl.ListShardKeys(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range ks {
			out = append(out, k.GetKey().GetKeyword())
		}
		return out
	}
	create := func(k *qdrant.CreateShardKey) error {
		return setup(&qdrant.UpdateCollectionClusterSetupRequest{Operation: &qdrant.UpdateCollectionClusterSetupRequest_CreateShardKey{CreateShardKey: k}})
	}
	if err := create(&qdrant.CreateShardKey{ShardKey: qdrant.NewShardKey("a"), ShardsNumber: qdrant.PtrOf(uint32(2))}); err != nil {
		t.Fatal(err)
	}
	if err := create(&qdrant.CreateShardKey{ShardKey: qdrant.NewShardKey("b"), InitialState: qdrant.ReplicaState_Partial.Enum()}); err != nil {
		t.Fatal(err)
	}
	if got := keys(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("keys %v, want [a b]", got)
	}
	for _, k := range []*qdrant.CreateShardKey{
		{ShardKey: qdrant.NewShardKey("a")},
		{ShardKey: qdrant.NewShardKey("d"), InitialState: qdrant.ReplicaState_Dead.Enum()},
		{ShardKey: qdrant.NewShardKey("d"), ShardsNumber: qdrant.PtrOf(uint32(0))},
		{},
	} {
		if err := create(k); code(err) != codes.InvalidArgument {
			t.Errorf("create %v: %v, want InvalidArgument", k, err)
		}
	}
	if err := deleteKey(&qdrant.DeleteShardKey{ShardKey: qdrant.NewShardKey("a")}); err != nil {
		t.Fatal(err)
	}
	if got := keys(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("keys after the delete %v, want [b]", got)
	}
	if err := deleteKey(&qdrant.DeleteShardKey{}); code(err) != codes.InvalidArgument {
		t.Fatalf("delete without a key: %v", err)
	}
}
