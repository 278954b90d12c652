package rest

import (
	"bytes"
	"encoding/json"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Defaults of the read requests, as Qdrant documents them.
const (
	defaultQueryLimit  = 10
	defaultScrollLimit = 10
)

// decodeRetrieve decodes PointRequest. with_payload defaults to true,
// with_vector to false.
func decodeRetrieve(body []byte) ([]*shoalv1.PointID, service.ReadOptions, error) {
	var opt service.ReadOptions
	f, err := object(body, false, "ids", "with_payload", "with_vector", "shard_key")
	if err != nil {
		return nil, opt, err
	}
	if err := checkShardKey(f); err != nil {
		return nil, opt, err
	}
	if _, ok := f["ids"]; !ok {
		return nil, opt, apierr.Format("missing field `ids`")
	}
	ids, err := pointIDs(f["ids"], "ids")
	if err != nil {
		return nil, opt, err
	}
	opt, err = readOptions(f, true, false)
	return ids, opt, err
}

func readOptions(f fields, payloadDefault, vectorDefault bool) (service.ReadOptions, error) {
	var opt service.ReadOptions
	var err error
	if opt.Payload, err = withPayload(f["with_payload"], payloadDefault); err != nil {
		return opt, err
	}
	opt.Vector, err = withVector(f["with_vector"], vectorDefault)
	return opt, err
}

// decodeDelete decodes PointsSelector: {"points": [ids]}; the filter form
// is rejected until filters are supported.
func decodeDelete(body []byte) ([]*shoalv1.PointID, error) {
	f, err := object(body, false, "points", "filter", "shard_key")
	if err != nil {
		return nil, err
	}
	if err := checkShardKey(f); err != nil {
		return nil, err
	}
	if f.present("filter") {
		return nil, apierr.NoFilters()
	}
	if _, ok := f["points"]; !ok {
		return nil, apierr.Format("missing field `points` or `filter`")
	}
	return pointIDs(f["points"], "points")
}

// searchParams decodes SearchParams: exact and hnsw_ef are passed on; the
// other members are accepted and have no effect yet.
func searchParams(raw json.RawMessage) (exact bool, hnswEf uint32, err error) {
	if isNull(raw) {
		return false, 0, nil
	}
	f, err := members(raw, "params", "hnsw_ef", "exact", "quantization", "indexed_only", "acorn", "idf")
	if err != nil {
		return false, 0, err
	}
	if e, err := f.boolField("exact"); err != nil {
		return false, 0, err
	} else if e != nil {
		exact = *e
	}
	if ef, err := f.uint32Field("hnsw_ef"); err != nil {
		return false, 0, err
	} else if ef != nil {
		hnswEf = *ef
	}
	if _, err := f.boolField("indexed_only"); err != nil {
		return false, 0, err
	}
	return exact, hnswEf, nil
}

// decodeSearch decodes Qdrant's (legacy) SearchRequest. limit is required
// and `top` is its alias; with_payload and with_vector default to false.
func decodeSearch(body []byte) (service.SearchRequest, error) {
	var req service.SearchRequest
	f, err := object(body, false, "vector", "filter", "params", "limit", "top", "offset", "with_payload", "with_vector", "score_threshold", "shard_key")
	if err != nil {
		return req, err
	}
	if err := checkShardKey(f); err != nil {
		return req, err
	}
	if err := f.mustBeNull("filter", apierr.NoFilters()); err != nil {
		return req, err
	}
	if req.Using, req.Vector, err = namedVectorStruct(f["vector"]); err != nil {
		return req, err
	}
	_, hasLimit := f["limit"]
	_, hasTop := f["top"]
	switch {
	case hasLimit && hasTop:
		return req, apierr.Format("duplicate field `limit` (`top` is its alias)")
	case hasTop:
		f["limit"] = f["top"]
	case !hasLimit:
		return req, apierr.Format("missing field `limit`")
	}
	if !f.present("limit") {
		return req, apierr.Format("limit: invalid type: null, expected an unsigned integer")
	}
	if req.Limit, err = f.intField("limit", 0); err != nil {
		return req, err
	}
	if req.Offset, err = f.intField("offset", 0); err != nil {
		return req, err
	}
	if req.ScoreThreshold, err = f.float32Field("score_threshold"); err != nil {
		return req, err
	}
	if req.Exact, req.HnswEf, err = searchParams(f["params"]); err != nil {
		return req, err
	}
	req.Read, err = readOptions(f, false, false)
	return req, err
}

// namedVectorStruct decodes NamedVectorStruct: a plain vector (the unnamed
// one) or {"name": …, "vector": […]}.
func namedVectorStruct(raw json.RawMessage) (string, []float32, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return "", nil, apierr.Format("missing field `vector`")
	}
	switch t[0] {
	case '[':
		if isArrayOfArrays(t) {
			return "", nil, apierr.Unsupported("multivectors")
		}
		v, err := floats(t, "vector")
		return "", v, err
	case '{':
		f, err := members(t, "vector", "name", "vector")
		if err != nil {
			return "", nil, err
		}
		name, err := f.stringField("name")
		if err != nil {
			return "", nil, err
		}
		if name == nil {
			return "", nil, apierr.Format("vector: missing field `name`")
		}
		if !f.present("vector") {
			return "", nil, apierr.Format("vector: missing field `vector`")
		}
		if vt := bytes.TrimSpace(f["vector"]); vt[0] == '{' {
			return "", nil, apierr.Unsupported("sparse vectors")
		}
		v, err := floats(f["vector"], "vector.vector")
		return *name, v, err
	}
	return "", nil, apierr.Format("vector: expected a vector or a named vector, got %s", kindOf(t))
}

// queryKinds are the Query variants other than nearest, by their tag.
var queryKinds = []string{"recommend", "discover", "context", "order_by", "fusion", "rrf", "formula", "sample", "relevance_feedback"}

// decodeQuery decodes QueryRequest. query may be a vector, a point id or
// {"nearest": …}; limit defaults to 10, with_payload and with_vector to
// false. A request without query lists points by id.
func decodeQuery(body []byte) (service.QueryRequest, error) {
	var req service.QueryRequest
	f, err := object(body, true, "shard_key", "prefetch", "query", "using", "filter", "params", "score_threshold", "limit", "offset", "with_vector", "with_payload", "lookup_from")
	if err != nil {
		return req, err
	}
	if err := checkShardKey(f); err != nil {
		return req, err
	}
	if err := f.mustBeNull("filter", apierr.NoFilters()); err != nil {
		return req, err
	}
	if err := f.mustBeNull("prefetch", apierr.Unsupported("prefetch")); err != nil {
		return req, err
	}
	if err := f.mustBeNull("lookup_from", apierr.Unsupported("lookup_from")); err != nil {
		return req, err
	}
	if using, err := f.stringField("using"); err != nil {
		return req, err
	} else if using != nil {
		req.Using = *using
	}
	if f.present("query") {
		if req.Vector, req.ByID, err = queryInput(f["query"]); err != nil {
			return req, err
		}
	}
	if req.Limit, err = f.intField("limit", defaultQueryLimit); err != nil {
		return req, err
	}
	if req.Offset, err = f.intField("offset", 0); err != nil {
		return req, err
	}
	if req.ScoreThreshold, err = f.float32Field("score_threshold"); err != nil {
		return req, err
	}
	if req.Exact, req.HnswEf, err = searchParams(f["params"]); err != nil {
		return req, err
	}
	req.Read, err = readOptions(f, false, false)
	return req, err
}

// queryInput decodes QueryInterface: a VectorInput (dense vector or point
// id) or a Query object, of which only nearest is supported.
func queryInput(raw json.RawMessage) ([]float32, *shoalv1.PointID, error) {
	t := bytes.TrimSpace(raw)
	if t[0] == '{' {
		f, err := members(t, "query")
		if err != nil {
			return nil, nil, err
		}
		if nearest, ok := f["nearest"]; ok {
			for k := range f {
				if k != "nearest" && k != "mmr" {
					return nil, nil, apierr.Format("query: unknown field `%s`, expected `nearest`, `mmr`", k)
				}
			}
			if err := f.mustBeNull("mmr", apierr.Unsupported("mmr")); err != nil {
				return nil, nil, err
			}
			if isNull(nearest) {
				return nil, nil, apierr.Format("query.nearest: expected a vector or a point id, got null")
			}
			return vectorInput(nearest)
		}
		for _, k := range queryKinds {
			if _, ok := f[k]; ok {
				return nil, nil, apierr.Unsupported("query `" + k + "`")
			}
		}
	}
	return vectorInput(t)
}

// vectorInput decodes VectorInput: a dense vector or a point id.
func vectorInput(raw json.RawMessage) ([]float32, *shoalv1.PointID, error) {
	t := bytes.TrimSpace(raw)
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

// decodeScroll decodes ScrollRequest: limit defaults to 10, with_payload
// to true, with_vector to false.
func decodeScroll(body []byte) (service.ScrollRequest, error) {
	var req service.ScrollRequest
	f, err := object(body, true, "shard_key", "offset", "limit", "filter", "with_payload", "with_vector", "order_by")
	if err != nil {
		return req, err
	}
	if err := checkShardKey(f); err != nil {
		return req, err
	}
	if err := f.mustBeNull("filter", apierr.NoFilters()); err != nil {
		return req, err
	}
	if err := f.mustBeNull("order_by", apierr.Unsupported("order_by")); err != nil {
		return req, err
	}
	if f.present("offset") {
		if req.Offset, err = pointID(f["offset"], "offset"); err != nil {
			return req, err
		}
	}
	if req.Limit, err = f.intField("limit", defaultScrollLimit); err != nil {
		return req, err
	}
	req.Read, err = readOptions(f, true, false)
	return req, err
}

// decodeCount decodes CountRequest; exact is accepted (counts are always
// exact).
func decodeCount(body []byte) error {
	f, err := object(body, true, "shard_key", "filter", "exact")
	if err != nil {
		return err
	}
	if err := checkShardKey(f); err != nil {
		return err
	}
	if err := f.mustBeNull("filter", apierr.NoFilters()); err != nil {
		return err
	}
	_, err = f.boolField("exact")
	return err
}
