package rest

import (
	"bytes"
	"encoding/json"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Decoders of the query API (QueryRequest, Prefetch, the Query variants),
// the batches and the legacy recommendation requests.

// Defaults of the query API, as Qdrant documents them.
const defaultPrefetchLimit = 10

// unsupportedQueries are the Query variants Shoal does not serve yet.
var unsupportedQueries = []string{"formula", "relevance_feedback"}

// decodeQuery decodes QueryRequest: limit defaults to 10, with_payload and
// with_vector to false. A request without query lists points by id.
func decodeQuery(body []byte) (service.QueryRequest, error) {
	var req service.QueryRequest
	f, err := object(body, true, "shard_key", "prefetch", "query", "using", "filter", "params", "score_threshold", "limit", "offset", "with_vector", "with_payload", "lookup_from")
	if err != nil {
		return req, err
	}
	return queryRequest(f)
}

func queryRequest(f fields) (service.QueryRequest, error) {
	var req service.QueryRequest
	var err error
	if req.ShardKey, err = shardKeySelector(f); err != nil {
		return req, err
	}
	if req.Stage, err = stage(f, defaultQueryLimit, 0); err != nil {
		return req, err
	}
	if req.Offset, err = f.intField("offset", 0); err != nil {
		return req, err
	}
	req.Read, err = readOptions(f, false, false)
	return req, err
}

// stage decodes the members a query and a prefetch share.
func stage(f fields, defaultLimit, depth int) (service.Stage, error) {
	var st service.Stage
	var err error
	if depth > service.MaxPrefetchDepth {
		return st, apierr.BadInput("prefetches are nested deeper than %d levels", service.MaxPrefetchDepth)
	}
	if st.LookupFrom, err = lookupFrom(f); err != nil {
		return st, err
	}
	if st.Filter, err = filterField(f); err != nil {
		return st, err
	}
	if using, err := f.stringField("using"); err != nil {
		return st, err
	} else if using != nil {
		st.Using = *using
	}
	if f.present("query") {
		if st.Query, err = query(f["query"]); err != nil {
			return st, err
		}
	}
	if st.Limit, err = f.intField("limit", defaultLimit); err != nil {
		return st, err
	}
	if st.ScoreThreshold, err = f.float32Field("score_threshold"); err != nil {
		return st, err
	}
	if st.Exact, st.HnswEf, err = searchParams(f["params"]); err != nil {
		return st, err
	}
	if f.present("prefetch") {
		raw := bytes.TrimSpace(f["prefetch"])
		elems := []json.RawMessage{raw}
		if raw[0] == '[' {
			if err := json.Unmarshal(raw, &elems); err != nil {
				return st, apierr.Format("prefetch: %v", err)
			}
		}
		for _, e := range elems {
			pf, err := members(e, "prefetch", "prefetch", "query", "using", "filter", "params", "score_threshold", "limit", "lookup_from")
			if err != nil {
				return st, err
			}
			p, err := stage(pf, defaultPrefetchLimit, depth+1)
			if err != nil {
				return st, err
			}
			st.Prefetch = append(st.Prefetch, p)
		}
	}
	return st, nil
}

// query decodes QueryInterface: a VectorInput (dense vector or point id)
// or a Query object.
func query(raw json.RawMessage) (service.Query, error) {
	var q service.Query
	t := bytes.TrimSpace(raw)
	if t[0] != '{' {
		var err error
		q.Vector, q.ByID, err = vectorInput(t)
		return q, err
	}
	f, err := members(t, "query")
	if err != nil {
		return q, err
	}
	if _, ok := f["indices"]; ok {
		return q, apierr.Unsupported("sparse vectors")
	}
	if isInference(f) {
		return q, apierr.Unsupported("inference (Document, Image and Object queries)")
	}
	for _, k := range unsupportedQueries {
		if _, ok := f[k]; ok {
			return q, apierr.Unsupported("query `" + k + "`")
		}
	}
	switch {
	case f.present("nearest"):
		if err := f.mustBeNull("mmr", apierr.Unsupported("mmr")); err != nil {
			return q, err
		}
		for k := range f {
			if k != "nearest" && k != "mmr" {
				return q, apierr.Format("query: unknown field `%s`, expected `nearest`, `mmr`", k)
			}
		}
		q.Vector, q.ByID, err = vectorInput(f["nearest"])
	case f.present("recommend"):
		q.Recommend, err = recommendInput(f["recommend"])
	case f.present("discover"):
		q.Discover, err = discoverInput(f["discover"])
	case f.present("context"):
		q.Discover = &service.Discover{}
		q.Discover.Context, err = contextInput(f["context"], "query.context")
	case f.present("fusion"):
		var kind string
		if err := json.Unmarshal(f["fusion"], &kind); err != nil || (kind != "rrf" && kind != "dbsf") {
			return q, apierr.Format("query.fusion: unknown variant %s, expected `rrf` or `dbsf`", f["fusion"])
		}
		q.Fusion = &service.Fusion{Kind: kind}
	case f.present("rrf"):
		rf, err := members(f["rrf"], "query.rrf", "k", "weights")
		if err != nil {
			return q, err
		}
		q.Fusion = &service.Fusion{Kind: "rrf"}
		if q.Fusion.K, err = rf.intField("k", 0); err != nil {
			return q, err
		}
		if rf.present("weights") {
			w, err := floats(rf["weights"], "query.rrf.weights")
			if err != nil {
				return q, err
			}
			q.Fusion.Weights = w
		}
	case f.present("order_by"):
		q.OrderBy, err = orderBy(f["order_by"])
	case f.present("sample"):
		var kind string
		if err := json.Unmarshal(f["sample"], &kind); err != nil || kind != "random" {
			return q, apierr.Format("query.sample: unknown variant %s, expected `random`", f["sample"])
		}
		q.Sample = true
	default:
		return q, apierr.Format("query: expected a vector, a point id or one of `nearest`, `recommend`, `discover`, `context`, `fusion`, `rrf`, `order_by`, `sample`")
	}
	return q, err
}

// recommendInput decodes RecommendInput.
func recommendInput(raw json.RawMessage) (*service.Recommend, error) {
	f, err := members(raw, "query.recommend", "positive", "negative", "strategy")
	if err != nil {
		return nil, err
	}
	r := &service.Recommend{}
	if r.Positive, err = vectorInputs(f["positive"], "positive"); err != nil {
		return nil, err
	}
	if r.Negative, err = vectorInputs(f["negative"], "negative"); err != nil {
		return nil, err
	}
	if s, err := f.stringField("strategy"); err != nil {
		return nil, err
	} else if s != nil {
		r.Strategy = *s
	}
	return r, nil
}

// vectorInputs decodes a list of examples (absent or null: none).
func vectorInputs(raw json.RawMessage, what string) ([]service.VectorInput, error) {
	if isNull(raw) {
		return nil, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, apierr.Format("%s: expected a list of vectors or point ids, got %s", what, kindOf(raw))
	}
	out := make([]service.VectorInput, len(elems))
	for i, e := range elems {
		v, id, err := vectorInput(e)
		if err != nil {
			return nil, err
		}
		out[i] = service.VectorInput{Vector: v, ID: id}
	}
	return out, nil
}

// vectorInput decodes VectorInput: a dense vector or a point id.
func vectorInput(raw json.RawMessage) ([]float32, *shoalv1.PointID, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil, apierr.Format("query: expected a vector or a point id, got null")
	}
	switch {
	case t[0] == '[':
		if isArrayOfArrays(t) {
			return nil, nil, apierr.Unsupported("multivectors")
		}
		v, err := floats(t, "query")
		return v, nil, err
	case t[0] == '"' || (t[0] >= '0' && t[0] <= '9') || t[0] == '-':
		id, err := pointID(t, "query")
		return nil, id, err
	case t[0] == '{':
		f, _ := members(t, "query")
		if isInference(f) {
			return nil, nil, apierr.Unsupported("inference (Document, Image and Object queries)")
		}
		if _, ok := f["indices"]; ok {
			return nil, nil, apierr.Unsupported("sparse vectors")
		}
	}
	return nil, nil, apierr.Format("query: expected a vector, a point id or a query object, got %s", kindOf(t))
}

// batch decodes {"searches": [...]} with decode applied to each request.
func batch[T any](body []byte, decode func(fields) (T, error), allowed ...string) ([]T, error) {
	f, err := object(body, false, "searches")
	if err != nil {
		return nil, err
	}
	if !f.present("searches") {
		return nil, apierr.Format("missing field `searches`")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(f["searches"], &elems); err != nil {
		return nil, apierr.Format("searches: expected an array, got %s", kindOf(f["searches"]))
	}
	out := make([]T, len(elems))
	for i, e := range elems {
		ef, err := members(e, "searches", allowed...)
		if err != nil {
			return nil, err
		}
		if out[i], err = decode(ef); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var queryFields = []string{"shard_key", "prefetch", "query", "using", "filter", "params", "score_threshold", "limit", "offset", "with_vector", "with_payload", "lookup_from"}

// decodeQueryBatch decodes QueryRequestBatch.
func decodeQueryBatch(body []byte) ([]service.QueryRequest, error) {
	return batch(body, queryRequest, queryFields...)
}

var recommendFields = []string{"shard_key", "positive", "negative", "strategy", "filter", "params", "limit", "offset", "with_payload", "with_vector", "score_threshold", "using", "lookup_from"}

// decodeRecommend decodes the legacy RecommendRequest into a recommend
// query: limit is required, with_payload and with_vector default to false.
func decodeRecommend(body []byte) (service.QueryRequest, error) {
	f, err := object(body, false, recommendFields...)
	if err != nil {
		return service.QueryRequest{}, err
	}
	return recommendRequest(f)
}

func recommendRequest(f fields) (service.QueryRequest, error) {
	var req service.QueryRequest
	if !f.present("limit") {
		return req, apierr.Format("missing field `limit`")
	}
	rf := fields{"positive": f["positive"], "negative": f["negative"]}
	if f.present("strategy") {
		rf["strategy"] = f["strategy"]
	}
	b, _ := json.Marshal(rf)
	r, err := recommendInput(b)
	if err != nil {
		return req, err
	}
	delete(f, "positive")
	delete(f, "negative")
	delete(f, "strategy")
	if req, err = queryRequest(f); err != nil {
		return req, err
	}
	req.Recommend = r
	return req, nil
}

// decodeRecommendBatch decodes RecommendRequestBatch.
func decodeRecommendBatch(body []byte) ([]service.QueryRequest, error) {
	return batch(body, recommendRequest, recommendFields...)
}

var searchFields = []string{"vector", "filter", "params", "limit", "top", "offset", "with_payload", "with_vector", "score_threshold", "shard_key"}

// decodeSearchBatch decodes SearchRequestBatch.
func decodeSearchBatch(body []byte) ([]service.SearchRequest, error) {
	return batch(body, func(f fields) (service.SearchRequest, error) {
		b, _ := json.Marshal(f)
		return decodeSearch(b)
	}, searchFields...)
}
