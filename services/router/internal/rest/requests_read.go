package rest

import (
	"bytes"
	"encoding/json"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Defaults of the read requests, as Qdrant documents them.
const (
	defaultQueryLimit  = 10
	defaultScrollLimit = 10
)

// decodeRetrieve decodes PointRequest. with_payload defaults to true,
// with_vector to false.
func decodeRetrieve(body []byte) ([]*shoalv1.PointID, service.ReadOptions, *routing.KeySelector, error) {
	var opt service.ReadOptions
	f, err := object(body, false, "ids", "with_payload", "with_vector", "shard_key")
	if err != nil {
		return nil, opt, nil, err
	}
	sel, err := shardKeySelector(f)
	if err != nil {
		return nil, opt, nil, err
	}
	if _, ok := f["ids"]; !ok {
		return nil, opt, nil, apierr.Format("missing field `ids`")
	}
	ids, err := pointIDs(f["ids"], "ids")
	if err != nil {
		return nil, opt, nil, err
	}
	opt, err = readOptions(f, true, false)
	return ids, opt, sel, err
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
	if req.ShardKey, err = shardKeySelector(f); err != nil {
		return req, err
	}
	if req.Filter, err = filterField(f); err != nil {
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

// decodeScroll decodes ScrollRequest: limit defaults to 10, with_payload
// to true, with_vector to false.
func decodeScroll(body []byte) (service.ScrollRequest, error) {
	var req service.ScrollRequest
	f, err := object(body, true, "shard_key", "offset", "limit", "filter", "with_payload", "with_vector", "order_by")
	if err != nil {
		return req, err
	}
	if req.ShardKey, err = shardKeySelector(f); err != nil {
		return req, err
	}
	if req.Filter, err = filterField(f); err != nil {
		return req, err
	}
	if f.present("order_by") {
		if req.OrderBy, err = orderBy(f["order_by"]); err != nil {
			return req, err
		}
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
func decodeCount(body []byte) (service.CountRequest, error) {
	var req service.CountRequest
	f, err := object(body, true, "shard_key", "filter", "exact")
	if err != nil {
		return req, err
	}
	if req.ShardKey, err = shardKeySelector(f); err != nil {
		return req, err
	}
	if req.Filter, err = filterField(f); err != nil {
		return req, err
	}
	_, err = f.boolField("exact")
	return req, err
}

// filterField decodes an optional Filter member: an object (its
// conditions are checked where the filter is evaluated) or null.
func filterField(f fields) (json.RawMessage, error) {
	if !f.present("filter") {
		return nil, nil
	}
	if t := bytes.TrimSpace(f["filter"]); t[0] != '{' {
		return nil, apierr.Format("filter: invalid type: %s, expected struct Filter", kindOf(t))
	}
	return f["filter"], nil
}

// orderBy decodes OrderByInterface: a key, or {"key", "direction",
// "start_from"} where start_from is a number or an RFC 3339 datetime.
func orderBy(raw json.RawMessage) (*service.OrderBy, error) {
	t := bytes.TrimSpace(raw)
	if t[0] == '"' {
		var key string
		if err := json.Unmarshal(t, &key); err != nil {
			return nil, apierr.Format("order_by: %v", err)
		}
		return &service.OrderBy{Key: key}, nil
	}
	f, err := members(t, "order_by", "key", "direction", "start_from")
	if err != nil {
		return nil, err
	}
	key, err := f.stringField("key")
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, apierr.Format("order_by: missing field `key`")
	}
	ob := &service.OrderBy{Key: *key}
	if dir, err := f.stringField("direction"); err != nil {
		return nil, err
	} else if dir != nil {
		switch *dir {
		case "asc":
		case "desc":
			ob.Descending = true
		default:
			return nil, apierr.Format("order_by.direction: unknown variant `%s`, expected `asc` or `desc`", *dir)
		}
	}
	if f.present("start_from") {
		sf := bytes.TrimSpace(f["start_from"])
		var v float64
		if sf[0] == '"' {
			var s string
			_ = json.Unmarshal(sf, &s)
			ts, err := service.ParseDatetime(s)
			if err != nil {
				return nil, apierr.Format("order_by.start_from: %v", err)
			}
			v = float64(ts.UnixNano()) / 1e9
		} else if err := json.Unmarshal(sf, &v); err != nil {
			return nil, apierr.Format("order_by.start_from: expected a number or a datetime, got %s", kindOf(sf))
		}
		ob.StartFrom = &v
	}
	return ob, nil
}
