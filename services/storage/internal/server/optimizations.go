package server

import (
	"context"
	"sort"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/segment"
)

// Optimizations reports the segment optimizers of a replica, one per
// vector name, merged (running and queued jobs name their vector).
func (s *Server) Optimizations(ctx context.Context, req *connect.Request[shoalv1.OptimizationsRequest]) (*connect.Response[shoalv1.OptimizationsResponse], error) {
	r, err := s.replica(ctx, req.Msg.GetShard())
	if err != nil {
		return nil, err
	}
	stats := r.SegmentStats()
	names := make([]string, 0, len(stats))
	for name := range stats {
		names = append(names, name)
	}
	sort.Strings(names)
	out := &shoalv1.OptimizationsResponse{}
	for _, name := range names {
		p := stats[name].Progress
		for _, op := range p.Running {
			out.Running = append(out.Running, optimizationProto(name, op))
		}
		for _, op := range p.Completed {
			out.Completed = append(out.Completed, optimizationProto(name, op))
		}
		for _, q := range p.Queued {
			out.Queued = append(out.Queued, &shoalv1.PendingOptimization{Optimizer: q.Optimizer, Segments: segmentInfos(q.Segments), Vector: name})
		}
		out.Idle = append(out.Idle, segmentInfos(p.Idle)...)
	}
	// Completed jobs of every vector, newest first.
	sort.SliceStable(out.Completed, func(i, j int) bool {
		return out.Completed[i].GetFinishedUnixMs() > out.Completed[j].GetFinishedUnixMs()
	})
	return connect.NewResponse(out), nil
}

func optimizationProto(vector string, op segment.Optimization) *shoalv1.SegmentOptimization {
	m := &shoalv1.SegmentOptimization{
		Uuid: op.UUID, Optimizer: op.Optimizer, Done: op.Done, Error: op.Err,
		Segments: segmentInfos(op.Segments), Points: uint64(op.Points),
		StartedUnixMs: op.Started.UnixMilli(), Vector: vector,
	}
	if !op.Finished.IsZero() {
		m.FinishedUnixMs = op.Finished.UnixMilli()
	}
	return m
}

func segmentInfos(in []segment.SegmentInfo) []*shoalv1.SegmentInfo {
	out := make([]*shoalv1.SegmentInfo, 0, len(in))
	for _, i := range in {
		out = append(out, &shoalv1.SegmentInfo{Uuid: i.UUID, Points: uint64(i.Points)})
	}
	return out
}
