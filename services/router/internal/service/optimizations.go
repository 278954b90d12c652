package service

import (
	"context"
	"slices"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// OptimizationsRequest selects the optional parts of the optimizations
// report (Qdrant's `with` and `completed_limit` parameters).
type OptimizationsRequest struct {
	Queued, Completed, IdleSegments bool
	// CompletedLimit caps Completed (newest first).
	CompletedLimit int
}

// SegmentRef is one segment of a replica.
type SegmentRef struct {
	UUID   string
	Points uint64
}

// Optimization is one segment optimizer job of one shard.
type Optimization struct {
	Shard     uint32
	Vector    string
	UUID      string
	Optimizer string
	// Running is true while the job runs; then Done and Err are unset.
	Running bool
	Done    bool
	Err     string
	// Segments are the job's sources; Points their live points.
	Segments []SegmentRef
	Points   uint64
	Started  time.Time
	Finished time.Time
}

// PendingOptimization is a job a shard's optimizer would run next.
type PendingOptimization struct {
	Shard     uint32
	Optimizer string
	Segments  []SegmentRef
}

// OptimizationsSummary counts the queue and the idle segments.
type OptimizationsSummary struct {
	QueuedOptimizations, QueuedSegments int
	QueuedPoints                        uint64
	IdleSegments                        int
}

// Optimizations is a collection's optimization progress, gathered from
// one Active replica of every shard. Queued, Completed and Idle are nil
// unless asked for.
type Optimizations struct {
	Summary   OptimizationsSummary
	Running   []Optimization
	Queued    []PendingOptimization
	Completed []Optimization
	Idle      []SegmentRef
}

// Optimizations reports the segment optimizers of a collection (named
// directly or through an alias). A shard that cannot answer fails the
// request (503 when it has no Active replica).
func (s *Service) Optimizations(ctx context.Context, name string, req OptimizationsRequest) (Optimizations, error) {
	c, err := s.resolve(name)
	if err != nil {
		return Optimizations{}, err
	}
	if req.CompletedLimit < 0 {
		return Optimizations{}, apierr.New(apierr.BadRequest, "Query deserialize error: completed_limit: must not be negative")
	}
	out := Optimizations{Running: []Optimization{}}
	var queued []PendingOptimization
	var completed []Optimization
	var idle []SegmentRef
	for _, so := range s.opt.Router.OptimizationsEach(ctx, c) {
		if so.Err != nil {
			return Optimizations{}, apierr.FromConnect(so.Err, "optimizations")
		}
		for _, op := range so.Resp.GetRunning() {
			out.Running = append(out.Running, optimizationOf(so.Shard, op, true))
		}
		for _, op := range so.Resp.GetCompleted() {
			completed = append(completed, optimizationOf(so.Shard, op, false))
		}
		for _, q := range so.Resp.GetQueued() {
			p := PendingOptimization{Shard: so.Shard, Optimizer: q.GetOptimizer(), Segments: segmentRefs(q.GetSegments())}
			queued = append(queued, p)
			out.Summary.QueuedSegments += len(p.Segments)
			for _, seg := range p.Segments {
				out.Summary.QueuedPoints += seg.Points
			}
		}
		idle = append(idle, segmentRefs(so.Resp.GetIdle())...)
	}
	out.Summary.QueuedOptimizations = len(queued)
	out.Summary.IdleSegments = len(idle)
	if req.Queued {
		out.Queued = append([]PendingOptimization{}, queued...)
	}
	if req.Completed {
		slices.SortStableFunc(completed, func(a, b Optimization) int { return b.Finished.Compare(a.Finished) })
		out.Completed = append([]Optimization{}, completed[:min(len(completed), req.CompletedLimit)]...)
	}
	if req.IdleSegments {
		out.Idle = append([]SegmentRef{}, idle...)
	}
	return out, nil
}

func optimizationOf(shard uint32, op *shoalv1.SegmentOptimization, running bool) Optimization {
	o := Optimization{
		Shard: shard, Vector: op.GetVector(), UUID: op.GetUuid(), Optimizer: op.GetOptimizer(),
		Running: running, Segments: segmentRefs(op.GetSegments()), Points: op.GetPoints(),
		Started: time.UnixMilli(op.GetStartedUnixMs()).UTC(),
	}
	if !running {
		o.Done, o.Err = op.GetDone(), op.GetError()
		if op.GetFinishedUnixMs() != 0 {
			o.Finished = time.UnixMilli(op.GetFinishedUnixMs()).UTC()
		}
	}
	return o
}

func segmentRefs(in []*shoalv1.SegmentInfo) []SegmentRef {
	out := make([]SegmentRef, 0, len(in))
	for _, s := range in {
		out = append(out, SegmentRef{UUID: s.GetUuid(), Points: s.GetPoints()})
	}
	return out
}
