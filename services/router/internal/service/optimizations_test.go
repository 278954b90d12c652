package service_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// busyNode answers Optimizations with a report derived from the shard id:
// shard s has one running job, s+1 completed jobs finished at s*10+k ms,
// and one queued merge of two segments of s+1 points each.
type busyNode struct {
	shoalv1connect.StorageServiceClient
}

func (busyNode) Optimizations(_ context.Context, req *connect.Request[shoalv1.OptimizationsRequest]) (*connect.Response[shoalv1.OptimizationsResponse], error) {
	s := int64(req.Msg.GetShard().GetShardId())
	seg := func(n int64) *shoalv1.SegmentInfo { return &shoalv1.SegmentInfo{Uuid: "seg", Points: uint64(n)} }
	resp := &shoalv1.OptimizationsResponse{
		Running: []*shoalv1.SegmentOptimization{{Uuid: "run", Optimizer: "indexing", Segments: []*shoalv1.SegmentInfo{seg(5)}, Points: 5, StartedUnixMs: 1}},
		Queued:  []*shoalv1.PendingOptimization{{Optimizer: "merge", Segments: []*shoalv1.SegmentInfo{seg(s + 1), seg(s + 1)}}},
		Idle:    []*shoalv1.SegmentInfo{seg(100)},
	}
	for k := int64(0); k <= s; k++ {
		resp.Completed = append(resp.Completed, &shoalv1.SegmentOptimization{Uuid: "done", Optimizer: "vacuum", Done: true, StartedUnixMs: 1, FinishedUnixMs: s*10 + k})
	}
	return connect.NewResponse(resp), nil
}

type busyDialer struct{ fc *fake.Cluster }

func (d busyDialer) Storage(uri string) shoalv1connect.StorageServiceClient {
	return busyNode{d.fc.StorageClient(uri)}
}

func TestOptimizationsAggregatesShards(t *testing.T) {
	ctx := context.Background()
	fc := fake.NewCluster(3)
	svc := service.New(service.Options{
		NodeID: 9, State: fc.State, Router: routing.New(fc.State, busyDialer{fc}, nil), Meta: fc, Consensus: noConsensus{}, Log: zerolog.Nop(),
	})
	if err := svc.CreateCollection(ctx, service.CreateCollectionRequest{Name: "c", Vectors: map[string]service.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}, ShardNumber: u32(3), ReplicationFactor: u32(2)}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Optimizations(ctx, "c", service.OptimizationsRequest{Queued: true, Completed: true, IdleSegments: true, CompletedLimit: 4})
	if err != nil {
		t.Fatal(err)
	}
	// Shards 0, 1, 2: queued points 2+4+6, 1+2+3 completed jobs.
	sum := got.Summary
	if sum.QueuedOptimizations != 3 || sum.QueuedSegments != 6 || sum.QueuedPoints != 12 || sum.IdleSegments != 3 {
		t.Fatalf("summary %+v", sum)
	}
	if len(got.Running) != 3 || !got.Running[0].Running || got.Running[0].Points != 5 || len(got.Queued) != 3 || len(got.Idle) != 3 {
		t.Fatalf("running %+v queued %+v idle %+v", got.Running, got.Queued, got.Idle)
	}
	// Newest first across shards, limited: shard 2's 22, 21, 20, then 11.
	var finished []int64
	for _, op := range got.Completed {
		if !op.Done || op.Running {
			t.Fatalf("completed %+v", op)
		}
		finished = append(finished, op.Finished.UnixMilli())
	}
	if len(finished) != 4 || finished[0] != 22 || finished[1] != 21 || finished[2] != 20 || finished[3] != 11 || got.Completed[3].Shard != 1 {
		t.Fatalf("completed finished at %v", finished)
	}
	// Without `with`, only the summary and the running jobs.
	got, err = svc.Optimizations(ctx, "c", service.OptimizationsRequest{CompletedLimit: 4})
	if err != nil || got.Queued != nil || got.Completed != nil || got.Idle != nil || got.Summary.QueuedOptimizations != 3 {
		t.Fatalf("%+v %v", got, err)
	}
}
