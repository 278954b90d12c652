package service

import (
	"context"
	"math"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// MaxPrefetchDepth bounds the nesting of prefetches.
const MaxPrefetchDepth = 8

// Query serves the query API. A request without prefetches runs its query
// over the collection: nearest (by vector or point id), recommend, order
// by a payload field, random sample, or, with no query, points in id
// order. With prefetches the stages run bottom-up: every prefetch's
// results (its own limit, the filters of it and of every stage above it)
// are fused (rrf, dbsf) or become the candidates the stage's query scores,
// orders or samples. The result is the final stage's best Offset+Limit
// points without the first Offset, with the payload and vectors Read asks
// for.
func (s *Service) Query(ctx context.Context, collection string, req QueryRequest) ([]ScoredPoint, error) {
	c, err := s.target(collection, req.ShardKey)
	if err != nil {
		return nil, err
	}
	return s.query(ctx, c, req)
}

// QueryBatch runs several queries on one collection, in order.
func (s *Service) QueryBatch(ctx context.Context, collection string, reqs []QueryRequest) ([][]ScoredPoint, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return nil, err
	}
	out := make([][]ScoredPoint, len(reqs))
	for i, req := range reqs {
		qc, err := c.Select(req.ShardKey)
		if err != nil {
			return nil, err
		}
		if out[i], err = s.query(ctx, qc, req); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) query(ctx context.Context, c *routing.Collection, req QueryRequest) ([]ScoredPoint, error) {
	if err := checkPage(req.Limit, req.Offset); err != nil {
		return nil, err
	}
	if err := checkStage(c, req.Stage, 0); err != nil {
		return nil, err
	}
	// The common leaf queries read payload and vectors directly.
	if len(req.Prefetch) == 0 {
		leaf := req.Stage
		leaf.Limit = req.Limit
		switch {
		case req.Vector != nil || req.ByID != nil:
			search := SearchRequest{
				Using: req.Using, Vector: req.Vector, Limit: req.Limit, Offset: req.Offset,
				ScoreThreshold: req.ScoreThreshold, Exact: req.Exact, HnswEf: req.HnswEf, Read: req.Read, Filter: req.Filter,
			}
			var exclude []*shoalv1.PointID
			if req.ByID != nil {
				ex := []VectorInput{{ID: req.ByID}}
				v, err := s.exampleVectors(ctx, c, req.Using, req.LookupFrom, ex)
				if err != nil {
					return nil, err
				}
				search.Vector, exclude = v[0], s.excludedExamples(c, req.LookupFrom, ex)
			}
			return s.search(ctx, c, search, exclude)
		case req.Recommend == nil && req.Discover == nil && req.Fusion == nil && req.OrderBy == nil && !req.Sample:
			page, err := s.scroll(ctx, c, ScrollRequest{Limit: req.Offset + req.Limit, Read: req.Read, Filter: req.Filter})
			if err != nil {
				return nil, err
			}
			return pageOf(scoredRecords(page.Points), req.Offset), nil
		case req.OrderBy != nil:
			page, err := s.scroll(ctx, c, ScrollRequest{Limit: req.Offset + req.Limit, Read: req.Read, Filter: req.Filter, OrderBy: req.OrderBy})
			if err != nil {
				return nil, err
			}
			return pageOf(scoredRecords(page.Points), req.Offset), nil
		}
	}
	st := req.Stage
	st.Limit = req.Offset + req.Limit
	hits, err := s.evalStage(ctx, c, st, nil, nil)
	if err != nil {
		return nil, err
	}
	return s.withReadOptions(ctx, c, pageOf(hits, req.Offset), req.Read)
}

func pageOf(hits []ScoredPoint, offset int) []ScoredPoint {
	return hits[min(offset, len(hits)):]
}

func scoredRecords(recs []Record) []ScoredPoint {
	out := make([]ScoredPoint, len(recs))
	for i, r := range recs {
		out[i] = ScoredPoint{Record: r}
	}
	return out
}

// checkStage validates a stage and its prefetches before anything runs.
func checkStage(c *routing.Collection, st Stage, depth int) error {
	if depth > MaxPrefetchDepth {
		return apierr.BadInput("prefetches are nested deeper than %d levels", MaxPrefetchDepth)
	}
	if err := checkPage(max(st.Limit, 1), 0); err != nil {
		return err
	}
	kinds := 0
	for _, set := range []bool{st.Vector != nil || st.ByID != nil, st.Recommend != nil, st.Discover != nil, st.Fusion != nil, st.OrderBy != nil, st.Sample} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return apierr.Format("query: expected one kind of query")
	}
	if _, ok := c.Meta.GetConfig().GetVectors()[st.Using]; !ok && (st.Vector != nil || st.ByID != nil || st.Recommend != nil || st.Discover != nil) {
		return apierr.BadInput("Not existing vector name error: %s", st.Using)
	}
	if st.Vector != nil {
		if err := checkVector(c, st.Using, st.Vector); err != nil {
			return err
		}
	}
	if r := st.Recommend; r != nil {
		switch r.Strategy {
		case "", "average_vector", "best_score", "sum_scores":
		default:
			return apierr.Format("recommend.strategy: unknown variant `%s`, expected one of `average_vector`, `best_score`, `sum_scores`", r.Strategy)
		}
		if len(r.Positive) == 0 && (r.Strategy == "" || r.Strategy == "average_vector") {
			return apierr.BadInput("At least one positive vector ID required with this strategy")
		}
		if len(r.Positive)+len(r.Negative) == 0 {
			return apierr.BadInput("At least one positive or negative example is required")
		}
		for _, ex := range append(append([]VectorInput{}, r.Positive...), r.Negative...) {
			if ex.ID == nil {
				if err := checkVector(c, st.Using, ex.Vector); err != nil {
					return err
				}
			}
		}
	}
	if err := checkLookup(st.LookupFrom); err != nil {
		return err
	}
	if st.Discover != nil {
		if err := checkDiscover(c, st.Using, st.Discover); err != nil {
			return err
		}
	}
	if f := st.Fusion; f != nil {
		if len(st.Prefetch) == 0 {
			return apierr.BadInput("Fusion queries need prefetches")
		}
		if f.Kind != "rrf" && f.Kind != "dbsf" {
			return apierr.Format("query.fusion: unknown variant `%s`, expected `rrf` or `dbsf`", f.Kind)
		}
		if f.Weights != nil && len(f.Weights) != len(st.Prefetch) {
			return apierr.BadInput("Number of weights in RRF should match number of pre-fetches: got %d, expected %d", len(f.Weights), len(st.Prefetch))
		}
	}
	if st.Vector == nil && st.ByID == nil && st.Recommend == nil && st.Discover == nil && st.Fusion == nil && st.OrderBy == nil && !st.Sample && len(st.Prefetch) > 1 {
		return apierr.BadInput("A query is needed to merge the results of several prefetches")
	}
	if t := st.ScoreThreshold; t != nil && (math.IsNaN(float64(*t)) || math.IsInf(float64(*t), 0)) {
		return apierr.BadInput("score_threshold must be a finite number")
	}
	if _, err := checkFilter(st.Filter); err != nil {
		return err
	}
	for _, p := range st.Prefetch {
		if err := checkStage(c, p, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// withReadOptions fetches the payload and vectors of the final hits.
func (s *Service) withReadOptions(ctx context.Context, c *routing.Collection, hits []ScoredPoint, read ReadOptions) ([]ScoredPoint, error) {
	if len(hits) == 0 || (!read.Payload.Enabled && !read.Vector.All && len(read.Vector.Names) == 0) {
		return hits, nil
	}
	ids := make([]*shoalv1.PointID, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	ro, err := readOptions(c, read)
	if err != nil {
		return nil, err
	}
	pts, err := s.opt.Router.Get(ctx, c, dedupeIDs(ids), ro)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]*shoalv1.Point, len(pts))
	for _, p := range pts {
		byKey[string(pointid.Key(p.GetId()))] = p
	}
	out := make([]ScoredPoint, 0, len(hits))
	for _, h := range hits {
		p, ok := byKey[string(pointid.Key(h.ID))]
		if !ok {
			continue // deleted since it was scored
		}
		r := toRecord(p, read)
		r.OrderValue = h.OrderValue
		out = append(out, ScoredPoint{Record: r, Score: h.Score})
	}
	return out, nil
}
