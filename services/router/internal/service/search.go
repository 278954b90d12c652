package service

import (
	"context"
	"math"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// MaxLimit bounds limit and offset of searches and scrolls, so that a
// request cannot make every shard materialise an unbounded result.
const MaxLimit = 1 << 20

func checkPage(limit, offset int) error {
	switch {
	case limit < 1:
		return apierr.Invalid("limit", "value %d invalid, must be 1 or larger", limit)
	case limit > MaxLimit:
		return apierr.Invalid("limit", "value %d invalid, must be %d or smaller", limit, MaxLimit)
	case offset < 0:
		return apierr.Invalid("offset", "value %d invalid, must be 0 or larger", offset)
	case offset > MaxLimit:
		return apierr.Invalid("offset", "value %d invalid, must be %d or smaller", offset, MaxLimit)
	}
	return nil
}

// Search returns the points nearest to a vector, best first. Scores are
// the storage's: higher is better for Cosine and Dot, lower for Euclid and
// Manhattan.
func (s *Service) Search(ctx context.Context, collection string, req SearchRequest) ([]ScoredPoint, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return nil, err
	}
	return s.search(ctx, c, req, nil)
}

func (s *Service) search(ctx context.Context, c *routing.Collection, req SearchRequest, exclude []*shoalv1.PointID) ([]ScoredPoint, error) {
	if err := checkPage(req.Limit, req.Offset); err != nil {
		return nil, err
	}
	if err := checkVector(c, req.Using, req.Vector); err != nil {
		return nil, err
	}
	if t := req.ScoreThreshold; t != nil && (math.IsNaN(float64(*t)) || math.IsInf(float64(*t), 0)) {
		return nil, apierr.BadInput("score_threshold must be a finite number")
	}
	ro, err := readOptions(c, req.Read)
	if err != nil {
		return nil, err
	}
	hits, err := s.opt.Router.Search(ctx, c, routing.SearchParams{
		Using: req.Using, Vector: req.Vector, Limit: req.Limit, Offset: req.Offset,
		ScoreThreshold: req.ScoreThreshold, Exact: req.Exact, HnswEf: req.HnswEf, Read: ro, Exclude: exclude,
	})
	if err != nil {
		return nil, err
	}
	out := make([]ScoredPoint, len(hits))
	for i, h := range hits {
		out[i] = ScoredPoint{Record: toRecord(h.GetPoint(), req.Read), Score: h.GetScore()}
	}
	return out, nil
}

// Query serves the query API: a nearest query by vector, a nearest query
// by a point's id (that point's vector named Using, the point itself left
// out of the result), or, with neither, the points in id order (score 0)
// after skipping Offset of them.
func (s *Service) Query(ctx context.Context, collection string, req QueryRequest) ([]ScoredPoint, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return nil, err
	}
	search := SearchRequest{
		Using: req.Using, Vector: req.Vector, Limit: req.Limit, Offset: req.Offset,
		ScoreThreshold: req.ScoreThreshold, Exact: req.Exact, HnswEf: req.HnswEf, Read: req.Read,
	}
	switch {
	case req.Vector != nil:
		return s.search(ctx, c, search, nil)
	case req.ByID != nil:
		if _, ok := c.Meta.GetConfig().GetVectors()[req.Using]; !ok {
			return nil, apierr.BadInput("Not existing vector name error: %s", req.Using)
		}
		ps, err := s.opt.Router.Get(ctx, c, []*shoalv1.PointID{req.ByID}, routing.ReadOptions{WithVector: &shoalv1.WithVector{Names: []string{req.Using}}})
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			return nil, apierr.Missing("Point with id %s does not exists!", pointid.String(req.ByID))
		}
		v, ok := ps[0].GetVectors()[req.Using]
		if !ok {
			return nil, apierr.BadInput("Point %s has no vector `%s`", pointid.String(req.ByID), req.Using)
		}
		search.Vector = v.GetData()
		return s.search(ctx, c, search, []*shoalv1.PointID{req.ByID})
	}
	if err := checkPage(req.Limit, req.Offset); err != nil {
		return nil, err
	}
	page, err := s.scroll(ctx, c, ScrollRequest{Limit: req.Offset + req.Limit, Read: req.Read})
	if err != nil {
		return nil, err
	}
	recs := page.Points[min(req.Offset, len(page.Points)):]
	out := make([]ScoredPoint, len(recs))
	for i, r := range recs {
		out[i] = ScoredPoint{Record: r}
	}
	return out, nil
}

// Scroll returns a page of points in id order (integers, then UUIDs).
func (s *Service) Scroll(ctx context.Context, collection string, req ScrollRequest) (ScrollResult, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return ScrollResult{}, err
	}
	return s.scroll(ctx, c, req)
}

func (s *Service) scroll(ctx context.Context, c *routing.Collection, req ScrollRequest) (ScrollResult, error) {
	if err := checkPage(req.Limit, 0); err != nil {
		return ScrollResult{}, err
	}
	ro, err := readOptions(c, req.Read)
	if err != nil {
		return ScrollResult{}, err
	}
	points, next, err := s.opt.Router.Scroll(ctx, c, req.Offset, req.Limit, ro)
	if err != nil {
		return ScrollResult{}, err
	}
	out := ScrollResult{Points: make([]Record, len(points)), NextOffset: next}
	for i, p := range points {
		out.Points[i] = toRecord(p, req.Read)
	}
	return out, nil
}

// Count returns the number of points in a collection. Counts are always
// exact (the sum of the shards' exact counts); exact=false is accepted.
func (s *Service) Count(ctx context.Context, collection string) (uint64, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return 0, err
	}
	return s.opt.Router.Count(ctx, c)
}
