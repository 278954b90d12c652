package service

import (
	"context"
	"math"

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
	c, err := s.target(collection, req.ShardKey)
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
	filter, err := checkFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	hits, err := s.opt.Router.Search(ctx, c, routing.SearchParams{
		Using: req.Using, Vector: req.Vector, Limit: req.Limit, Offset: req.Offset,
		ScoreThreshold: req.ScoreThreshold, Exact: req.Exact, HnswEf: req.HnswEf, Read: ro, Exclude: exclude,
		Filter: filter,
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

// Scroll returns a page of points in id order (integers, then UUIDs), or
// ordered by a payload field (OrderBy: every point once per value it has
// for the field, no next page offset).
func (s *Service) Scroll(ctx context.Context, collection string, req ScrollRequest) (ScrollResult, error) {
	c, err := s.target(collection, req.ShardKey)
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
	filter, err := checkFilter(req.Filter)
	if err != nil {
		return ScrollResult{}, err
	}
	if req.OrderBy != nil {
		return s.scrollOrdered(ctx, c, req, ro, filter)
	}
	points, next, err := s.opt.Router.Scroll(ctx, c, routing.ScrollParams{Offset: req.Offset, Limit: req.Limit, Read: ro, Filter: filter})
	if err != nil {
		return ScrollResult{}, err
	}
	out := ScrollResult{Points: make([]Record, len(points)), NextOffset: next}
	for i, p := range points {
		out.Points[i] = toRecord(p, req.Read)
	}
	return out, nil
}

func (s *Service) scrollOrdered(ctx context.Context, c *routing.Collection, req ScrollRequest, ro routing.ReadOptions, filter []byte) (ScrollResult, error) {
	ob := req.OrderBy
	switch {
	case req.Offset != nil:
		return ScrollResult{}, apierr.New(apierr.BadRequest, "Bad request: Cannot use an `offset` when using `order_by`. The alternative for paging is to use `order_by.start_from` and a filter to exclude the IDs that you've already seen for the `order_by.start_from` value")
	case ob.Key == "":
		return ScrollResult{}, apierr.Invalid("order_by.key", "must not be empty")
	case ob.StartFrom != nil && (math.IsNaN(*ob.StartFrom) || math.IsInf(*ob.StartFrom, 0)):
		return ScrollResult{}, apierr.BadInput("order_by.start_from must be a finite number")
	}
	pts, err := s.opt.Router.ScrollOrdered(ctx, c, routing.OrderedScrollParams{
		OrderBy: &shoalv1.OrderBy{Key: ob.Key, Descending: ob.Descending, StartFrom: ob.StartFrom},
		Limit:   req.Limit, Read: ro, Filter: filter,
	})
	if err != nil {
		return ScrollResult{}, err
	}
	out := ScrollResult{Points: make([]Record, len(pts))}
	for i, p := range pts {
		out.Points[i] = toRecord(p.Point, req.Read)
		v := p.Value
		out.Points[i].OrderValue = &v
	}
	return out, nil
}

// Count returns the number of points in a collection that match the
// request's filter. Counts are always exact (the sum of the shards' exact
// counts); exact=false is accepted.
func (s *Service) Count(ctx context.Context, collection string, req CountRequest) (uint64, error) {
	c, err := s.target(collection, req.ShardKey)
	if err != nil {
		return 0, err
	}
	filter, err := checkFilter(req.Filter)
	if err != nil {
		return 0, err
	}
	return s.opt.Router.Count(ctx, c, filter)
}

// SearchBatch runs several searches on one collection, in order.
func (s *Service) SearchBatch(ctx context.Context, collection string, reqs []SearchRequest) ([][]ScoredPoint, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return nil, err
	}
	out := make([][]ScoredPoint, len(reqs))
	for i, req := range reqs {
		sc, err := c.Select(req.ShardKey)
		if err != nil {
			return nil, err
		}
		if out[i], err = s.search(ctx, sc, req, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
