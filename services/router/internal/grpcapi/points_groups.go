package grpcapi

import (
	"context"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Defaults of the grouped, facet and matrix RPCs, as Qdrant's.
const (
	defaultGroupSize    = 3
	defaultGroupLimit   = 10
	defaultFacetLimit   = 10
	defaultMatrixSample = 10
	defaultMatrixLimit  = 3
)

// The grouped queries, facets and search matrices of qdrant.Points.
func (s *Server) registerPointGroups() {
	unary(s, "/qdrant.Points/QueryGroups", false, func(ctx context.Context, req *qdrant.QueryPointGroups) (*qdrant.QueryGroupsResponse, error) {
		ks, err := keySelector(req.GetShardKeySelector())
		if err != nil {
			return nil, err
		}
		gr := service.GroupsRequest{GroupBy: req.GetGroupBy(), GroupSize: defaultGroupSize, WithLookup: withLookupOf(req.WithLookup)}
		gr.ShardKey = ks
		if req.GroupSize != nil {
			gr.GroupSize = int(min(req.GetGroupSize(), service.MaxLimit+1))
		}
		gr.Stage, err = stageOf(stageInput{
			prefetch: req.GetPrefetch(), query: req.GetQuery(), using: req.GetUsing(), filter: req.GetFilter(), params: req.GetParams(),
			threshold: req.ScoreThreshold, limit: req.Limit, lookup: req.LookupFrom,
		}, defaultGroupLimit, 0)
		if err != nil {
			return nil, err
		}
		gr.Read = readOptions(req.GetWithPayload(), req.GetWithVectors(), false)
		res, err := s.groups(ctx, req.GetCollectionName(), gr)
		return &qdrant.QueryGroupsResponse{Result: res}, err
	})
	unary(s, "/qdrant.Points/SearchGroups", false, func(ctx context.Context, req *qdrant.SearchPointGroups) (*qdrant.SearchGroupsResponse, error) {
		ks, err := keySelector(req.GetShardKeySelector())
		if err != nil {
			return nil, err
		}
		if req.SparseIndices != nil {
			return nil, apierr.Unsupported("sparse vectors")
		}
		v, err := finite(req.GetVector())
		if err != nil {
			return nil, err
		}
		gr := service.GroupsRequest{GroupBy: req.GetGroupBy(), GroupSize: int(req.GetGroupSize()), WithLookup: withLookupOf(req.WithLookup)}
		gr.ShardKey = ks
		gr.Using, gr.Vector, gr.Limit, gr.ScoreThreshold = req.GetVectorName(), v, int(req.GetLimit()), req.ScoreThreshold
		gr.Exact, gr.HnswEf = searchParams(req.GetParams())
		gr.Read = readOptions(req.GetWithPayload(), req.GetWithVectors(), false)
		if gr.Filter, err = filterJSON(req.GetFilter()); err != nil {
			return nil, err
		}
		res, err := s.groups(ctx, req.GetCollectionName(), gr)
		return &qdrant.SearchGroupsResponse{Result: res}, err
	})
	unary(s, "/qdrant.Points/RecommendGroups", false, func(ctx context.Context, req *qdrant.RecommendPointGroups) (*qdrant.RecommendGroupsResponse, error) {
		qr, err := recommendRequest(&qdrant.RecommendPoints{
			CollectionName: req.GetCollectionName(), Positive: req.GetPositive(), Negative: req.GetNegative(), Filter: req.GetFilter(),
			Limit: uint64(req.GetLimit()), WithPayload: req.GetWithPayload(), Params: req.GetParams(), ScoreThreshold: req.ScoreThreshold,
			Using: req.Using, WithVectors: req.GetWithVectors(), LookupFrom: req.GetLookupFrom(), Strategy: req.Strategy,
			PositiveVectors: req.GetPositiveVectors(), NegativeVectors: req.GetNegativeVectors(), ShardKeySelector: req.GetShardKeySelector(),
		})
		if err != nil {
			return nil, err
		}
		res, err := s.groups(ctx, req.GetCollectionName(), service.GroupsRequest{QueryRequest: qr, GroupBy: req.GetGroupBy(), GroupSize: int(req.GetGroupSize()), WithLookup: withLookupOf(req.WithLookup)})
		return &qdrant.RecommendGroupsResponse{Result: res}, err
	})
	unary(s, "/qdrant.Points/Facet", false, func(ctx context.Context, req *qdrant.FacetCounts) (*qdrant.FacetResponse, error) {
		ks, err := keySelector(req.GetShardKeySelector())
		if err != nil {
			return nil, err
		}
		fr := service.FacetRequest{Key: req.GetKey(), Limit: defaultFacetLimit, ShardKey: ks}
		if req.Limit != nil {
			fr.Limit = int(min(req.GetLimit(), service.MaxLimit+1))
		}
		if fr.Filter, err = filterJSON(req.GetFilter()); err != nil {
			return nil, err
		}
		hits, err := s.svc.Facet(ctx, req.GetCollectionName(), fr)
		if err != nil {
			return nil, err
		}
		out := &qdrant.FacetResponse{Hits: make([]*qdrant.FacetHit, len(hits))}
		for i, h := range hits {
			v := &qdrant.FacetValue{}
			switch x := h.Value.(type) {
			case string:
				v.Variant = &qdrant.FacetValue_StringValue{StringValue: x}
			case int64:
				v.Variant = &qdrant.FacetValue_IntegerValue{IntegerValue: x}
			case bool:
				v.Variant = &qdrant.FacetValue_BoolValue{BoolValue: x}
			}
			out.Hits[i] = &qdrant.FacetHit{Value: v, Count: h.Count}
		}
		return out, nil
	})
	unary(s, "/qdrant.Points/SearchMatrixPairs", false, func(ctx context.Context, req *qdrant.SearchMatrixPoints) (*qdrant.SearchMatrixPairsResponse, error) {
		_, pairs, err := s.matrix(ctx, req)
		if err != nil {
			return nil, err
		}
		out := &qdrant.SearchMatrixPairs{Pairs: make([]*qdrant.SearchMatrixPair, len(pairs))}
		for i, p := range pairs {
			out.Pairs[i] = &qdrant.SearchMatrixPair{A: qdrantID(p.A), B: qdrantID(p.B), Score: p.Score}
		}
		return &qdrant.SearchMatrixPairsResponse{Result: out}, nil
	})
	unary(s, "/qdrant.Points/SearchMatrixOffsets", false, func(ctx context.Context, req *qdrant.SearchMatrixPoints) (*qdrant.SearchMatrixOffsetsResponse, error) {
		ids, pairs, err := s.matrix(ctx, req)
		if err != nil {
			return nil, err
		}
		out := &qdrant.SearchMatrixOffsets{Ids: make([]*qdrant.PointId, len(ids))}
		index := map[string]uint64{}
		for i, id := range ids {
			out.Ids[i], index[string(pointid.Key(id))] = qdrantID(id), uint64(i)
		}
		for _, p := range pairs {
			out.OffsetsRow = append(out.OffsetsRow, index[string(pointid.Key(p.A))])
			out.OffsetsCol = append(out.OffsetsCol, index[string(pointid.Key(p.B))])
			out.Scores = append(out.Scores, p.Score)
		}
		return &qdrant.SearchMatrixOffsetsResponse{Result: out}, nil
	})
}

func (s *Server) groups(ctx context.Context, collection string, req service.GroupsRequest) (*qdrant.GroupsResult, error) {
	groups, err := s.svc.QueryGroups(ctx, collection, req)
	if err != nil {
		return nil, err
	}
	out := &qdrant.GroupsResult{Groups: make([]*qdrant.PointGroup, len(groups))}
	for i, g := range groups {
		id := &qdrant.GroupId{}
		switch v := g.ID.(type) {
		case string:
			id.Kind = &qdrant.GroupId_StringValue{StringValue: v}
		case int64:
			id.Kind = &qdrant.GroupId_IntegerValue{IntegerValue: v}
		}
		out.Groups[i] = &qdrant.PointGroup{Id: id, Hits: scoredPoints(g.Hits)}
		if g.Lookup != nil {
			out.Groups[i].Lookup = retrievedPoint(*g.Lookup)
		}
	}
	return out, nil
}

func (s *Server) matrix(ctx context.Context, req *qdrant.SearchMatrixPoints) ([]*shoalv1.PointID, []service.MatrixPair, error) {
	ks, err := keySelector(req.GetShardKeySelector())
	if err != nil {
		return nil, nil, err
	}
	mr := service.MatrixRequest{Sample: defaultMatrixSample, Limit: defaultMatrixLimit, Using: req.GetUsing(), ShardKey: ks}
	if req.Sample != nil {
		mr.Sample = int(min(req.GetSample(), service.MaxMatrixSample+1))
	}
	if req.Limit != nil {
		mr.Limit = int(min(req.GetLimit(), service.MaxMatrixSample+1))
	}
	if mr.Filter, err = filterJSON(req.GetFilter()); err != nil {
		return nil, nil, err
	}
	return s.svc.SearchMatrix(ctx, req.GetCollectionName(), mr)
}
