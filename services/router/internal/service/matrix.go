package service

import (
	"context"
	"encoding/json"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// MatrixRequest asks for the distance matrix of a random sample: Sample
// points matching Filter, each with its Limit nearest among the sample.
type MatrixRequest struct {
	Filter json.RawMessage
	Sample int
	Limit  int
	Using  string
	// ShardKey restricts the request to these shard keys (custom
	// sharding); nil for every shard.
	ShardKey *routing.KeySelector
}

// MatrixPair is one entry: B is one of A's nearest sampled points.
type MatrixPair struct {
	A, B  *shoalv1.PointID
	Score float32
}

// MaxMatrixSample bounds a matrix request's sample (one search per
// sampled point).
const MaxMatrixSample = 10000

// SearchMatrix samples points and scores each against the others: it
// returns the sampled ids and, per sampled point in their order, its Limit
// best neighbours among the sample (exact search).
func (s *Service) SearchMatrix(ctx context.Context, collection string, req MatrixRequest) ([]*shoalv1.PointID, []MatrixPair, error) {
	c, err := s.target(collection, req.ShardKey)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case req.Sample < 2 || req.Sample > MaxMatrixSample:
		return nil, nil, apierr.Invalid("sample", "value %d invalid, must be from 2 to %d", req.Sample, MaxMatrixSample)
	case req.Limit < 1 || req.Limit > MaxMatrixSample:
		return nil, nil, apierr.Invalid("limit", "value %d invalid, must be from 1 to %d", req.Limit, MaxMatrixSample)
	}
	if _, ok := c.Meta.GetConfig().GetVectors()[req.Using]; !ok {
		return nil, nil, apierr.BadInput("Not existing vector name error: %s", req.Using)
	}
	filter, err := checkFilter(req.Filter)
	if err != nil {
		return nil, nil, err
	}
	// Only points that have the vector take part.
	has, _ := json.Marshal(map[string]any{"must": []any{map[string]any{"has_vector": req.Using}}})
	filter = andFilters(filter, has)
	sampled, err := s.sample(ctx, c, filter, req.Sample)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]*shoalv1.PointID, len(sampled))
	inputs := make([]VectorInput, len(sampled))
	for i, h := range sampled {
		ids[i], inputs[i] = h.ID, VectorInput{ID: h.ID}
	}
	if len(ids) < 2 {
		return ids, []MatrixPair{}, nil
	}
	vecs, err := s.exampleVectors(ctx, c, req.Using, nil, inputs)
	if err != nil {
		return nil, nil, err
	}
	among := andFilters(filter, hasIDFilter(ids))
	var pairs []MatrixPair
	for i, v := range vecs {
		hits, err := s.opt.Router.Search(ctx, c, routing.SearchParams{
			Using: req.Using, Vector: v, Limit: req.Limit, Exact: true, Filter: among, Exclude: []*shoalv1.PointID{ids[i]},
		})
		if err != nil {
			return nil, nil, err
		}
		for _, h := range hits {
			pairs = append(pairs, MatrixPair{A: ids[i], B: h.GetPoint().GetId(), Score: h.GetScore()})
		}
	}
	return ids, pairs, nil
}
