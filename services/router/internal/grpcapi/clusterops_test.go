package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

func TestUpdateCollectionClusterSetup(t *testing.T) {
	cl, fc, _ := serve(t, apikey.Keys{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cl.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "c", ShardNumber: qdrant.PtrOf(uint32(2)),
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot}),
	})
	if err != nil {
		t.Fatal(err)
	}
	setup := func(op any) error {
		req := &qdrant.UpdateCollectionClusterSetupRequest{CollectionName: "c"}
		switch o := op.(type) {
		case *qdrant.MoveShard:
			req.Operation = &qdrant.UpdateCollectionClusterSetupRequest_MoveShard{MoveShard: o}
		case *qdrant.ReplicateShard:
			req.Operation = &qdrant.UpdateCollectionClusterSetupRequest_ReplicateShard{ReplicateShard: o}
		case *qdrant.Replica:
			req.Operation = &qdrant.UpdateCollectionClusterSetupRequest_DropReplica{DropReplica: o}
		case *qdrant.AbortShardTransfer:
			req.Operation = &qdrant.UpdateCollectionClusterSetupRequest_AbortTransfer{AbortTransfer: o}
		}
		return cl.UpdateClusterCollectionSetup(ctx, req)
	}
	if err := setup(&qdrant.ReplicateShard{ShardId: 1, FromPeerId: 2, ToPeerId: 3, Method: qdrant.PtrOf(qdrant.ShardTransferMethod_WalDelta)}); err != nil {
		t.Fatal(err)
	}
	if err := setup(&qdrant.MoveShard{ShardId: 0, FromPeerId: 1, ToPeerId: 3}); err != nil {
		t.Fatal(err)
	}
	if err := setup(&qdrant.Replica{ShardId: 0, PeerId: 1}); err != nil {
		t.Fatal(err)
	}
	want := []*shoalv1.UpdateClusterSetupRequest{
		{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_ReplicateShard{ReplicateShard: &shoalv1.ShardTransferOp{ShardId: 1, FromPeerId: 2, ToPeerId: 3, Method: "wal_delta"}}},
		{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_MoveShard{MoveShard: &shoalv1.ShardTransferOp{ShardId: 0, FromPeerId: 1, ToPeerId: 3}}},
		{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_DropReplica{DropReplica: &shoalv1.DropReplicaOp{ShardId: 0, PeerId: 1}}},
	}
	got := fc.Ops.Requests()
	if len(got) != len(want) {
		t.Fatalf("meta got %v", got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("request %d: got %v, want %v", i, got[i], want[i])
		}
	}
	info, err := cl.GetCollectionClusterInfo(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if tr := info.GetShardTransfers(); len(tr) != 2 || tr[0].GetShardId() != 1 || tr[0].GetFrom() != 2 || tr[0].GetTo() != 3 || !tr[0].GetSync() || tr[1].GetSync() {
		t.Fatalf("shard transfers: %v", tr)
	}
	if err := setup(&qdrant.AbortShardTransfer{ShardId: 0, FromPeerId: 2, ToPeerId: 3}); code(err) != codes.NotFound {
		t.Fatalf("abort of a missing transfer: %v", err)
	}
	if err := setup(&qdrant.MoveShard{ShardId: 0, FromPeerId: 1, ToPeerId: 3, ToShardId: qdrant.PtrOf(uint32(1))}); code(err) != codes.InvalidArgument {
		t.Fatalf("resharding move: %v", err)
	}
	if err := setup(&qdrant.ReplicateShard{ShardId: 0, FromPeerId: 1, ToPeerId: 3, Method: qdrant.PtrOf(qdrant.ShardTransferMethod_ReshardingStreamRecords)}); code(err) != codes.InvalidArgument {
		t.Fatalf("resharding method: %v", err)
	}
	if len(fc.Ops.Requests()) != 4 {
		t.Fatalf("refused requests reached meta: %v", fc.Ops.Requests())
	}
}
