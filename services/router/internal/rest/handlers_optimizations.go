package rest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// defaultCompletedLimit is Qdrant's default for `completed_limit`.
const defaultCompletedLimit = 16

// getOptimizations is GET /collections/{name}/optimizations.
func (s *Server) getOptimizations(r *http.Request, _ []byte) (any, error) {
	req, err := decodeOptimizationsQuery(r)
	if err != nil {
		return nil, err
	}
	res, err := s.svc.Optimizations(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return nil, err
	}
	return optimizationsJSON(res), nil
}

// decodeOptimizationsQuery reads `with` (a comma-separated list of
// queued, completed, idle_segments) and `completed_limit`.
func decodeOptimizationsQuery(r *http.Request) (service.OptimizationsRequest, error) {
	q := r.URL.Query()
	req := service.OptimizationsRequest{CompletedLimit: defaultCompletedLimit}
	if with := q.Get("with"); with != "" {
		for _, part := range strings.Split(with, ",") {
			switch strings.TrimSpace(part) {
			case "queued":
				req.Queued = true
			case "completed":
				req.Completed = true
			case "idle_segments":
				req.IdleSegments = true
			default:
				return req, apierr.New(apierr.BadRequest, "Query deserialize error: with: unknown value %q, expected queued, completed or idle_segments", part)
			}
		}
	}
	if v := q.Get("completed_limit"); v != "" {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return req, apierr.New(apierr.BadRequest, "Query deserialize error: completed_limit: invalid value %q, expected a non-negative integer", v)
		}
		req.CompletedLimit = int(n)
	}
	return req, nil
}

func optimizationsJSON(o service.Optimizations) map[string]any {
	out := map[string]any{
		"summary": map[string]any{
			"queued_optimizations": o.Summary.QueuedOptimizations,
			"queued_segments":      o.Summary.QueuedSegments,
			"queued_points":        o.Summary.QueuedPoints,
			"idle_segments":        o.Summary.IdleSegments,
		},
		"running": optimizationList(o.Running),
	}
	if o.Queued != nil {
		queued := make([]map[string]any, 0, len(o.Queued))
		for _, q := range o.Queued {
			queued = append(queued, map[string]any{"optimizer": q.Optimizer, "segments": segmentsJSON(q.Segments)})
		}
		out["queued"] = queued
	}
	if o.Completed != nil {
		out["completed"] = optimizationList(o.Completed)
	}
	if o.Idle != nil {
		out["idle_segments"] = segmentsJSON(o.Idle)
	}
	return out
}

func optimizationList(ops []service.Optimization) []map[string]any {
	out := make([]map[string]any, 0, len(ops))
	for _, op := range ops {
		out = append(out, optimizationJSON(op))
	}
	return out
}

// optimizationJSON is Qdrant's Optimization. Its progress tree has one
// node named after the optimizer; a finished job reports its points as
// done and total, a running one only the total (builds report no
// intermediate progress).
func optimizationJSON(op service.Optimization) map[string]any {
	var status any
	progress := map[string]any{"name": op.Optimizer, "started_at": op.Started.Format(time.RFC3339Nano), "total": op.Points}
	switch {
	case op.Running:
		status = "optimizing"
	case op.Done:
		status = "done"
		progress["done"] = op.Points
	default:
		status = map[string]any{"error": op.Err}
	}
	if !op.Running && !op.Finished.IsZero() {
		progress["finished_at"] = op.Finished.Format(time.RFC3339Nano)
		progress["duration_sec"] = op.Finished.Sub(op.Started).Seconds()
	}
	return map[string]any{
		"uuid":      op.UUID,
		"optimizer": op.Optimizer,
		"status":    status,
		"segments":  segmentsJSON(op.Segments),
		"progress":  progress,
	}
}

func segmentsJSON(segs []service.SegmentRef) []map[string]any {
	out := make([]map[string]any, 0, len(segs))
	for _, s := range segs {
		out = append(out, map[string]any{"uuid": s.UUID, "points_count": s.Points})
	}
	return out
}
