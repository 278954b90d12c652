package grpcapi

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Defaults of the read RPCs, as Qdrant's.
const (
	defaultQueryLimit  = 10
	defaultScrollLimit = 10
)

// The reading RPCs of qdrant.Points.
func (s *Server) registerPointReads() {
	unary(s, "/qdrant.Points/Get", false, func(ctx context.Context, req *qdrant.GetPoints) (*qdrant.GetResponse, error) {
		ks, err := keySelector(req.GetShardKeySelector())
		if err != nil {
			return nil, err
		}
		ids, err := pointIDs(req.GetIds())
		if err != nil {
			return nil, err
		}
		recs, err := s.svc.RetrieveFrom(ctx, req.GetCollectionName(), ks, ids, readOptions(req.GetWithPayload(), req.GetWithVectors(), true))
		if err != nil {
			return nil, err
		}
		return &qdrant.GetResponse{Result: retrievedPoints(recs)}, nil
	})
	unary(s, "/qdrant.Points/Search", false, func(ctx context.Context, req *qdrant.SearchPoints) (*qdrant.SearchResponse, error) {
		hits, err := s.search(ctx, req)
		if err != nil {
			return nil, err
		}
		return &qdrant.SearchResponse{Result: scoredPoints(hits)}, nil
	})
	unary(s, "/qdrant.Points/SearchBatch", false, func(ctx context.Context, req *qdrant.SearchBatchPoints) (*qdrant.SearchBatchResponse, error) {
		out := &qdrant.SearchBatchResponse{Result: make([]*qdrant.BatchResult, len(req.GetSearchPoints()))}
		for i, sp := range req.GetSearchPoints() {
			sp.CollectionName = req.GetCollectionName()
			hits, err := s.search(ctx, sp)
			if err != nil {
				return nil, err
			}
			out.Result[i] = &qdrant.BatchResult{Result: scoredPoints(hits)}
		}
		return out, nil
	})
	unary(s, "/qdrant.Points/Scroll", false, func(ctx context.Context, req *qdrant.ScrollPoints) (*qdrant.ScrollResponse, error) {
		ks, err := keySelector(req.GetShardKeySelector())
		if err != nil {
			return nil, err
		}
		sr := service.ScrollRequest{Limit: defaultScrollLimit, Read: readOptions(req.GetWithPayload(), req.GetWithVectors(), true), ShardKey: ks}
		if req.Limit != nil {
			sr.Limit = int(req.GetLimit())
		}
		if req.Offset != nil {
			if sr.Offset, err = pointID(req.GetOffset()); err != nil {
				return nil, err
			}
		}
		if sr.Filter, err = filterJSON(req.GetFilter()); err != nil {
			return nil, err
		}
		if sr.OrderBy, err = orderBy(req.GetOrderBy()); err != nil {
			return nil, err
		}
		page, err := s.svc.Scroll(ctx, req.GetCollectionName(), sr)
		if err != nil {
			return nil, err
		}
		return &qdrant.ScrollResponse{Result: retrievedPoints(page.Points), NextPageOffset: qdrantID(page.NextOffset)}, nil
	})
	unary(s, "/qdrant.Points/Count", false, func(ctx context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
		ks, err := keySelector(req.GetShardKeySelector())
		if err != nil {
			return nil, err
		}
		f, err := filterJSON(req.GetFilter())
		if err != nil {
			return nil, err
		}
		n, err := s.svc.Count(ctx, req.GetCollectionName(), service.CountRequest{Filter: f, ShardKey: ks})
		if err != nil {
			return nil, err
		}
		return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: n}}, nil
	})
	unary(s, "/qdrant.Points/Query", false, func(ctx context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
		hits, err := s.query(ctx, req)
		if err != nil {
			return nil, err
		}
		return &qdrant.QueryResponse{Result: scoredPoints(hits)}, nil
	})
	unary(s, "/qdrant.Points/Recommend", false, func(ctx context.Context, req *qdrant.RecommendPoints) (*qdrant.RecommendResponse, error) {
		qr, err := recommendRequest(req)
		if err != nil {
			return nil, err
		}
		hits, err := s.svc.Query(ctx, req.GetCollectionName(), qr)
		if err != nil {
			return nil, err
		}
		return &qdrant.RecommendResponse{Result: scoredPoints(hits)}, nil
	})
	unary(s, "/qdrant.Points/RecommendBatch", false, func(ctx context.Context, req *qdrant.RecommendBatchPoints) (*qdrant.RecommendBatchResponse, error) {
		reqs := make([]service.QueryRequest, len(req.GetRecommendPoints()))
		for i, rp := range req.GetRecommendPoints() {
			var err error
			if reqs[i], err = recommendRequest(rp); err != nil {
				return nil, err
			}
		}
		res, err := s.svc.QueryBatch(ctx, req.GetCollectionName(), reqs)
		if err != nil {
			return nil, err
		}
		out := &qdrant.RecommendBatchResponse{Result: make([]*qdrant.BatchResult, len(res))}
		for i, hits := range res {
			out.Result[i] = &qdrant.BatchResult{Result: scoredPoints(hits)}
		}
		return out, nil
	})
	unary(s, "/qdrant.Points/Discover", false, func(ctx context.Context, req *qdrant.DiscoverPoints) (*qdrant.DiscoverResponse, error) {
		qr, err := discoverRequest(req)
		if err != nil {
			return nil, err
		}
		hits, err := s.svc.Query(ctx, req.GetCollectionName(), qr)
		if err != nil {
			return nil, err
		}
		return &qdrant.DiscoverResponse{Result: scoredPoints(hits)}, nil
	})
	unary(s, "/qdrant.Points/DiscoverBatch", false, func(ctx context.Context, req *qdrant.DiscoverBatchPoints) (*qdrant.DiscoverBatchResponse, error) {
		reqs := make([]service.QueryRequest, len(req.GetDiscoverPoints()))
		for i, dp := range req.GetDiscoverPoints() {
			var err error
			if reqs[i], err = discoverRequest(dp); err != nil {
				return nil, err
			}
		}
		res, err := s.svc.QueryBatch(ctx, req.GetCollectionName(), reqs)
		if err != nil {
			return nil, err
		}
		out := &qdrant.DiscoverBatchResponse{Result: make([]*qdrant.BatchResult, len(res))}
		for i, hits := range res {
			out.Result[i] = &qdrant.BatchResult{Result: scoredPoints(hits)}
		}
		return out, nil
	})
	unary(s, "/qdrant.Points/QueryBatch", false, func(ctx context.Context, req *qdrant.QueryBatchPoints) (*qdrant.QueryBatchResponse, error) {
		out := &qdrant.QueryBatchResponse{Result: make([]*qdrant.BatchResult, len(req.GetQueryPoints()))}
		for i, q := range req.GetQueryPoints() {
			q.CollectionName = req.GetCollectionName()
			hits, err := s.query(ctx, q)
			if err != nil {
				return nil, err
			}
			out.Result[i] = &qdrant.BatchResult{Result: scoredPoints(hits)}
		}
		return out, nil
	})
}

func (s *Server) search(ctx context.Context, req *qdrant.SearchPoints) ([]service.ScoredPoint, error) {
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
	sr := service.SearchRequest{ShardKey: ks,
		Using: req.GetVectorName(), Vector: v, Limit: int(min(req.GetLimit(), service.MaxLimit+1)), Offset: int(min(req.GetOffset(), service.MaxLimit+1)),
		ScoreThreshold: req.ScoreThreshold, Read: readOptions(req.GetWithPayload(), req.GetWithVectors(), false),
	}
	sr.Exact, sr.HnswEf = searchParams(req.GetParams())
	if sr.Filter, err = filterJSON(req.GetFilter()); err != nil {
		return nil, err
	}
	return s.svc.Search(ctx, req.GetCollectionName(), sr)
}

func (s *Server) query(ctx context.Context, req *qdrant.QueryPoints) ([]service.ScoredPoint, error) {
	ks, err := keySelector(req.GetShardKeySelector())
	if err != nil {
		return nil, err
	}
	qr := service.QueryRequest{Offset: int(min(req.GetOffset(), service.MaxLimit+1)), Read: readOptions(req.GetWithPayload(), req.GetWithVectors(), false), ShardKey: ks}
	qr.Stage, err = stageOf(stageInput{
		prefetch: req.GetPrefetch(), query: req.GetQuery(), using: req.GetUsing(), filter: req.GetFilter(), params: req.GetParams(),
		threshold: req.ScoreThreshold, limit: req.Limit, lookup: req.LookupFrom,
	}, defaultQueryLimit, 0)
	if err != nil {
		return nil, err
	}
	return s.svc.Query(ctx, req.GetCollectionName(), qr)
}

// fieldSchema builds Qdrant's REST field_schema from a gRPC field type and
// its index parameters: the type name alone, or {"type": …, params…}. Nil
// when no type was given.
func fieldSchema(t qdrant.FieldType, params *qdrant.PayloadIndexParams, typeSet bool) (json.RawMessage, error) {
	if !typeSet {
		return nil, nil
	}
	name := strings.ToLower(strings.TrimPrefix(t.String(), "FieldType"))
	var inner map[string]any
	if params != nil {
		m := params.ProtoReflect()
		if fd := m.WhichOneof(m.Descriptor().Oneofs().Get(0)); fd != nil && fd.Kind() == protoreflect.MessageKind {
			inner = messageToMap(m.Get(fd).Message())
		}
	}
	if len(inner) == 0 {
		return json.Marshal(name)
	}
	inner["type"] = name
	return json.Marshal(inner)
}
