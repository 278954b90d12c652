package grpcapi

import (
	"github.com/qdrant/go-client/qdrant"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// The query API's stages and query variants, and the legacy
// recommendation request, as the service's query types.

// stageInput is what QueryPoints and PrefetchQuery share.
type stageInput struct {
	prefetch  []*qdrant.PrefetchQuery
	query     *qdrant.Query
	using     string
	filter    *qdrant.Filter
	params    *qdrant.SearchParams
	threshold *float32
	limit     *uint64
	lookup    *qdrant.LookupLocation
}

// stageOf converts a query or prefetch, with its prefetches.
func stageOf(in stageInput, defaultLimit, depth int) (service.Stage, error) {
	st := service.Stage{Using: in.using, ScoreThreshold: in.threshold, Limit: defaultLimit}
	if depth > service.MaxPrefetchDepth {
		return st, apierr.BadInput("prefetches are nested deeper than %d levels", service.MaxPrefetchDepth)
	}
	var err error
	if st.LookupFrom, err = lookupOf(in.lookup); err != nil {
		return st, err
	}
	if in.limit != nil {
		st.Limit = int(min(*in.limit, service.MaxLimit+1))
	}
	st.Exact, st.HnswEf = searchParams(in.params)
	if st.Filter, err = filterJSON(in.filter); err != nil {
		return st, err
	}
	if in.query != nil {
		if st.Query, err = queryOf(in.query); err != nil {
			return st, err
		}
	}
	for _, p := range in.prefetch {
		ps, err := stageOf(stageInput{
			prefetch: p.GetPrefetch(), query: p.GetQuery(), using: p.GetUsing(), filter: p.GetFilter(), params: p.GetParams(),
			threshold: p.ScoreThreshold, limit: p.Limit, lookup: p.LookupFrom,
		}, defaultQueryLimit, depth+1)
		if err != nil {
			return st, err
		}
		st.Prefetch = append(st.Prefetch, ps)
	}
	return st, nil
}

// queryOf converts a Query.
func queryOf(q *qdrant.Query) (service.Query, error) {
	var out service.Query
	var err error
	switch k := q.GetVariant().(type) {
	case nil:
	case *qdrant.Query_Nearest:
		out.Vector, out.ByID, err = vectorInput(k.Nearest)
	case *qdrant.Query_Recommend:
		out.Recommend = &service.Recommend{Strategy: strategy(k.Recommend.Strategy)}
		if out.Recommend.Positive, err = vectorInputs(k.Recommend.GetPositive()); err != nil {
			return out, err
		}
		out.Recommend.Negative, err = vectorInputs(k.Recommend.GetNegative())
	case *qdrant.Query_Discover:
		out.Discover, err = discoverOf(k.Discover)
	case *qdrant.Query_Context:
		out.Discover = &service.Discover{}
		out.Discover.Context, err = contextOf(k.Context)
	case *qdrant.Query_OrderBy:
		out.OrderBy, err = orderBy(k.OrderBy)
	case *qdrant.Query_Fusion:
		out.Fusion = &service.Fusion{Kind: "rrf"}
		if k.Fusion == qdrant.Fusion_DBSF {
			out.Fusion.Kind = "dbsf"
		}
	case *qdrant.Query_Rrf:
		out.Fusion = &service.Fusion{Kind: "rrf", K: int(k.Rrf.GetK()), Weights: k.Rrf.GetWeights()}
	case *qdrant.Query_Sample:
		out.Sample = true
	case *qdrant.Query_NearestWithMmr:
		return out, apierr.Unsupported("mmr")
	default:
		return out, apierr.Unsupported("query `" + queryKind(q) + "`")
	}
	return out, err
}

func strategy(s *qdrant.RecommendStrategy) string {
	if s == nil {
		return ""
	}
	switch *s {
	case qdrant.RecommendStrategy_BestScore:
		return "best_score"
	case qdrant.RecommendStrategy_SumScores:
		return "sum_scores"
	}
	return "average_vector"
}

func vectorInputs(in []*qdrant.VectorInput) ([]service.VectorInput, error) {
	out := make([]service.VectorInput, len(in))
	for i, v := range in {
		var err error
		if out[i].Vector, out[i].ID, err = vectorInput(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// recommendRequest converts the legacy RecommendPoints into a recommend
// query.
func recommendRequest(req *qdrant.RecommendPoints) (service.QueryRequest, error) {
	ks, err := keySelector(req.GetShardKeySelector())
	if err != nil {
		return service.QueryRequest{}, err
	}
	qr := service.QueryRequest{Offset: int(min(req.GetOffset(), service.MaxLimit+1)), Read: readOptions(req.GetWithPayload(), req.GetWithVectors(), false), ShardKey: ks}
	qr.Using, qr.ScoreThreshold, qr.Limit = req.GetUsing(), req.ScoreThreshold, int(min(req.GetLimit(), service.MaxLimit+1))
	qr.Exact, qr.HnswEf = searchParams(req.GetParams())
	if qr.LookupFrom, err = lookupOf(req.LookupFrom); err != nil {
		return qr, err
	}
	if qr.Filter, err = filterJSON(req.GetFilter()); err != nil {
		return qr, err
	}
	r := &service.Recommend{Strategy: strategy(req.Strategy)}
	examples := func(ids []*qdrant.PointId, vecs []*qdrant.Vector) ([]service.VectorInput, error) {
		var out []service.VectorInput
		for _, id := range ids {
			pid, err := pointID(id)
			if err != nil {
				return nil, err
			}
			out = append(out, service.VectorInput{ID: pid})
		}
		for _, v := range vecs {
			d, err := dense(v)
			if err != nil {
				return nil, err
			}
			out = append(out, service.VectorInput{Vector: d})
		}
		return out, nil
	}
	if r.Positive, err = examples(req.GetPositive(), req.GetPositiveVectors()); err != nil {
		return qr, err
	}
	if r.Negative, err = examples(req.GetNegative(), req.GetNegativeVectors()); err != nil {
		return qr, err
	}
	qr.Recommend = r
	return qr, nil
}

// queryKind names the set variant of a Query in REST's words.
func queryKind(q *qdrant.Query) string {
	m := q.ProtoReflect()
	if fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("variant")); fd != nil {
		return string(fd.Name())
	}
	return "unknown"
}

// vectorInput converts a VectorInput: a dense vector or a point id.
func vectorInput(v *qdrant.VectorInput) ([]float32, *shoalv1.PointID, error) {
	switch k := v.GetVariant().(type) {
	case *qdrant.VectorInput_Id:
		id, err := pointID(k.Id)
		return nil, id, err
	case *qdrant.VectorInput_Dense:
		d, err := finite(k.Dense.GetData())
		return d, nil, err
	case *qdrant.VectorInput_Sparse:
		return nil, nil, apierr.Unsupported("sparse vectors")
	case *qdrant.VectorInput_MultiDense:
		return nil, nil, apierr.Unsupported("multivectors")
	case *qdrant.VectorInput_Document, *qdrant.VectorInput_Image, *qdrant.VectorInput_Object:
		return nil, nil, apierr.Unsupported("inference (Document, Image and Object queries)")
	}
	return nil, nil, apierr.Format("query: empty vector input")
}
