package rest

import (
	"encoding/json"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Decoders of the grouped queries, facets and search matrices, and the
// encoders of their results.

const (
	defaultGroupSize    = 3
	defaultGroupLimit   = 10
	defaultFacetLimit   = 10
	defaultMatrixSample = 10
	defaultMatrixLimit  = 3
)

// groupFields takes group_by, group_size and limit out of a request's
// members (required says whether group_size and limit must be given, as
// in the legacy requests); with_lookup is decoded by withLookup first.
func groupFields(f fields, required bool) (groupBy string, size, limit int, err error) {
	by, err := f.stringField("group_by")
	if err != nil {
		return "", 0, 0, err
	}
	if by == nil {
		return "", 0, 0, apierr.Format("missing field `group_by`")
	}
	for _, name := range []string{"group_size", "limit"} {
		if required && !f.present(name) {
			return "", 0, 0, apierr.Format("missing field `%s`", name)
		}
	}
	if size, err = f.intField("group_size", defaultGroupSize); err != nil {
		return "", 0, 0, err
	}
	if limit, err = f.intField("limit", defaultGroupLimit); err != nil {
		return "", 0, 0, err
	}
	for _, k := range []string{"group_by", "group_size", "limit", "with_lookup"} {
		delete(f, k)
	}
	return *by, size, limit, nil
}

// decodeQueryGroups decodes QueryGroupsRequest.
func decodeQueryGroups(body []byte) (service.GroupsRequest, error) {
	var req service.GroupsRequest
	f, err := object(body, false, append(append([]string{}, queryFields...), "group_by", "group_size", "with_lookup")...)
	if err != nil {
		return req, err
	}
	if req.WithLookup, err = withLookup(f); err != nil {
		return req, err
	}
	if req.GroupBy, req.GroupSize, req.Limit, err = groupFields(f, false); err != nil {
		return req, err
	}
	limit := req.Limit
	if _, has := f["offset"]; has {
		return req, apierr.Format("unknown field `offset`")
	}
	if req.QueryRequest, err = queryRequest(f); err != nil {
		return req, err
	}
	req.Limit = limit
	return req, nil
}

// decodeSearchGroups decodes the legacy SearchGroupsRequest.
func decodeSearchGroups(body []byte) (service.GroupsRequest, error) {
	var req service.GroupsRequest
	f, err := object(body, false, "vector", "filter", "params", "with_payload", "with_vector", "score_threshold", "group_by", "group_size", "limit", "with_lookup", "shard_key")
	if err != nil {
		return req, err
	}
	if req.WithLookup, err = withLookup(f); err != nil {
		return req, err
	}
	if req.GroupBy, req.GroupSize, req.Limit, err = groupFields(f, true); err != nil {
		return req, err
	}
	limit := req.Limit
	f["limit"] = json.RawMessage("1") // decodeSearch needs one; the group limit is kept apart
	b, _ := json.Marshal(f)
	search, err := decodeSearch(b)
	if err != nil {
		return req, err
	}
	req.Using, req.Vector, req.Filter, req.ScoreThreshold = search.Using, search.Vector, search.Filter, search.ScoreThreshold
	req.Exact, req.HnswEf, req.Read, req.Limit = search.Exact, search.HnswEf, search.Read, limit
	req.ShardKey = search.ShardKey
	return req, nil
}

// decodeRecommendGroups decodes the legacy RecommendGroupsRequest.
func decodeRecommendGroups(body []byte) (service.GroupsRequest, error) {
	var req service.GroupsRequest
	f, err := object(body, false, append(append([]string{}, recommendFields...), "group_by", "group_size", "with_lookup")...)
	if err != nil {
		return req, err
	}
	wl, err := withLookup(f)
	if err != nil {
		return req, err
	}
	if req.GroupBy, req.GroupSize, req.Limit, err = groupFields(f, true); err != nil {
		return req, err
	}
	limit := req.Limit
	f["limit"] = json.RawMessage("1")
	if req.QueryRequest, err = recommendRequest(f); err != nil {
		return req, err
	}
	req.WithLookup = wl
	req.Limit = limit
	return req, nil
}

// decodeFacet decodes FacetRequest; exact is accepted (counts are always
// exact).
func decodeFacet(body []byte) (service.FacetRequest, error) {
	var req service.FacetRequest
	f, err := object(body, false, "shard_key", "key", "limit", "filter", "exact")
	if err != nil {
		return req, err
	}
	if req.ShardKey, err = shardKeySelector(f); err != nil {
		return req, err
	}
	key, err := f.stringField("key")
	if err != nil {
		return req, err
	}
	if key == nil {
		return req, apierr.Format("missing field `key`")
	}
	req.Key = *key
	if req.Limit, err = f.intField("limit", defaultFacetLimit); err != nil {
		return req, err
	}
	if _, err := f.boolField("exact"); err != nil {
		return req, err
	}
	req.Filter, err = filterField(f)
	return req, err
}

// decodeMatrix decodes SearchMatrixRequest.
func decodeMatrix(body []byte) (service.MatrixRequest, error) {
	var req service.MatrixRequest
	f, err := object(body, true, "shard_key", "filter", "sample", "limit", "using")
	if err != nil {
		return req, err
	}
	if req.ShardKey, err = shardKeySelector(f); err != nil {
		return req, err
	}
	if req.Sample, err = f.intField("sample", defaultMatrixSample); err != nil {
		return req, err
	}
	if req.Limit, err = f.intField("limit", defaultMatrixLimit); err != nil {
		return req, err
	}
	if using, err := f.stringField("using"); err != nil {
		return req, err
	} else if using != nil {
		req.Using = *using
	}
	req.Filter, err = filterField(f)
	return req, err
}

// groupsJSON is GroupsResult.
func groupsJSON(groups []service.PointGroup) map[string]any {
	out := make([]map[string]any, len(groups))
	for i, g := range groups {
		out[i] = map[string]any{"id": g.ID, "hits": scoredPointsJSON(g.Hits)}
		if g.Lookup != nil {
			out[i]["lookup"] = recordsJSON([]service.Record{*g.Lookup})[0]
		}
	}
	return map[string]any{"groups": out}
}

// facetJSON is FacetResponse.
func facetJSON(hits []service.FacetHit) map[string]any {
	out := make([]map[string]any, len(hits))
	for i, h := range hits {
		out[i] = map[string]any{"value": h.Value, "count": h.Count}
	}
	return map[string]any{"hits": out}
}

// matrixPairsJSON is SearchMatrixPairsResponse.
func matrixPairsJSON(pairs []service.MatrixPair) map[string]any {
	out := make([]map[string]any, len(pairs))
	for i, p := range pairs {
		out[i] = map[string]any{"a": idJSON(p.A), "b": idJSON(p.B), "score": p.Score}
	}
	return map[string]any{"pairs": out}
}

// matrixOffsetsJSON is SearchMatrixOffsetsResponse: pairs as row and
// column indices into ids.
func matrixOffsetsJSON(ids []*shoalv1.PointID, pairs []service.MatrixPair) map[string]any {
	index := map[string]int{}
	outIDs := make([]any, len(ids))
	for i, id := range ids {
		index[string(pointid.Key(id))] = i
		outIDs[i] = idJSON(id)
	}
	rows, cols, scores := make([]int, len(pairs)), make([]int, len(pairs)), make([]float32, len(pairs))
	for i, p := range pairs {
		rows[i], cols[i], scores[i] = index[string(pointid.Key(p.A))], index[string(pointid.Key(p.B))], p.Score
	}
	return map[string]any{"offsets_row": rows, "offsets_col": cols, "scores": scores, "ids": outIDs}
}
