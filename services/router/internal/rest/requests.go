package rest

import (
	"bytes"
	"encoding/json"
	"slices"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Request decoders: one per request schema of Qdrant's OpenAPI. Each
// accepts every member the schema defines; members Shoal does not
// implement yet are rejected with a 400 when they are set (not null), and
// unknown members are format errors.

var distances = map[string]shoalv1.Distance{
	"Cosine":    shoalv1.Distance_DISTANCE_COSINE,
	"Euclid":    shoalv1.Distance_DISTANCE_EUCLID,
	"Dot":       shoalv1.Distance_DISTANCE_DOT,
	"Manhattan": shoalv1.Distance_DISTANCE_MANHATTAN,
}

var vectorParamsFields = []string{"size", "distance", "hnsw_config", "quantization_config", "on_disk", "memory", "datatype", "multivector_config"}

// decodeCreateCollection decodes CreateCollection.
func decodeCreateCollection(name string, body []byte) (service.CreateCollectionRequest, error) {
	allowed := append([]string{"vectors", "shard_number", "replication_factor", "write_consistency_factor", "on_disk_payload"}, service.ExtraFields...)
	f, err := object(body, false, allowed...)
	if err != nil {
		return service.CreateCollectionRequest{}, err
	}
	req := service.CreateCollectionRequest{Name: name, Vectors: map[string]service.VectorParams{}, Named: true, Extra: map[string]json.RawMessage{}}
	if f.present("vectors") {
		vf, err := members(f["vectors"], "vectors")
		if err != nil {
			return req, err
		}
		if isSingleVectorParams(vf) {
			p, err := vectorParams(vf, "vectors")
			if err != nil {
				return req, err
			}
			req.Vectors[""], req.Named = p, false
		} else {
			for vname, raw := range vf {
				pf, err := members(raw, "vectors."+vname, vectorParamsFields...)
				if err != nil {
					return req, err
				}
				if req.Vectors[vname], err = vectorParams(pf, "vectors."+vname); err != nil {
					return req, err
				}
			}
		}
	}
	if req.ShardNumber, err = f.uint32Field("shard_number"); err != nil {
		return req, err
	}
	if req.ReplicationFactor, err = f.uint32Field("replication_factor"); err != nil {
		return req, err
	}
	if req.WriteConsistencyFactor, err = f.uint32Field("write_consistency_factor"); err != nil {
		return req, err
	}
	if req.OnDiskPayload, err = f.boolField("on_disk_payload"); err != nil {
		return req, err
	}
	for _, k := range service.ExtraFields {
		if f.present(k) {
			req.Extra[k] = f[k]
		}
	}
	return req, nil
}

// isSingleVectorParams tells VectorParams ({"size": 4, "distance": "Dot"})
// from a map of named VectorParams, as Qdrant's untagged enum does: a
// numeric size or a string distance means the single form.
func isSingleVectorParams(f fields) bool {
	for k, want := range map[string]byte{"size": '0', "distance": '"'} {
		raw, ok := f[k]
		if !ok {
			continue
		}
		t := bytes.TrimSpace(raw)
		if len(t) > 0 && (t[0] == want || (want == '0' && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9')))) {
			return true
		}
	}
	return false
}

// vectorParams decodes VectorParams; the members other than size and
// distance are kept as options.
func vectorParams(f fields, what string) (service.VectorParams, error) {
	for k := range f {
		if !slices.Contains(vectorParamsFields, k) {
			return service.VectorParams{}, apierr.Format("%s: unknown field `%s`, expected one of %s", what, k, quoteList(vectorParamsFields))
		}
	}
	if _, ok := f["size"]; !ok {
		return service.VectorParams{}, apierr.Format("%s: missing field `size`", what)
	}
	if _, ok := f["distance"]; !ok {
		return service.VectorParams{}, apierr.Format("%s: missing field `distance`", what)
	}
	size, err := f.uintField("size", 64)
	if err != nil || size == nil {
		return service.VectorParams{}, apierr.Format("%s.size: invalid value %s, expected an unsigned integer", what, f["size"])
	}
	var dist string
	if err := json.Unmarshal(f["distance"], &dist); err != nil {
		return service.VectorParams{}, apierr.Format("%s.distance: invalid type: %s, expected a string", what, kindOf(f["distance"]))
	}
	d, ok := distances[dist]
	if !ok {
		return service.VectorParams{}, apierr.Format("%s.distance: unknown variant `%s`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`", what, dist)
	}
	p := service.VectorParams{Size: *size, Distance: d}
	opts := map[string]json.RawMessage{}
	for k, v := range f {
		if k != "size" && k != "distance" && !isNull(v) {
			opts[k] = v
		}
	}
	if len(opts) > 0 {
		p.Options, _ = json.Marshal(opts)
	}
	return p, nil
}

// decodeUpsert decodes PointsList or PointsBatch.
func decodeUpsert(body []byte) (service.UpsertRequest, error) {
	var req service.UpsertRequest
	f, err := object(body, false, "points", "batch", "shard_key", "update_filter", "update_mode")
	if err != nil {
		return req, err
	}
	if req.ShardKey, err = shardKeySelector(f); err != nil {
		return req, err
	}
	if req.UpdateFilter, err = updateFilter(f); err != nil {
		return req, err
	}
	if req.Mode, err = updateMode(f); err != nil {
		return req, err
	}
	_, hasPoints := f["points"]
	_, hasBatch := f["batch"]
	switch {
	case hasPoints && hasBatch:
		return req, apierr.Format("expected either `points` or `batch`, not both")
	case hasPoints:
		req.Points, err = pointsList(f["points"])
	case hasBatch:
		req.Points, err = pointsBatch(f["batch"])
	default:
		return req, apierr.Format("missing field `points` or `batch`")
	}
	return req, err
}

// updateModes are the values of UpdateMode.
var updateModes = map[string]shoalv1.UpdateMode{
	"upsert":      shoalv1.UpdateMode_UPDATE_MODE_UPSERT,
	"insert_only": shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY,
	"update_only": shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY,
}

// updateMode decodes the update_mode member (absent or null: upsert).
func updateMode(f fields) (shoalv1.UpdateMode, error) {
	mode, err := f.stringField("update_mode")
	if err != nil || mode == nil {
		return shoalv1.UpdateMode_UPDATE_MODE_UPSERT, err
	}
	m, ok := updateModes[*mode]
	if !ok {
		return m, apierr.Format("update_mode: unknown variant `%s`, expected one of `upsert`, `insert_only`, `update_only`", *mode)
	}
	return m, nil
}

// updateFilter decodes the update_filter member: a Filter, or null/absent
// for none.
func updateFilter(f fields) (json.RawMessage, error) {
	if !f.present("update_filter") {
		return nil, nil
	}
	if t := bytes.TrimSpace(f["update_filter"]); t[0] != '{' {
		return nil, apierr.Format("update_filter: invalid type: %s, expected struct Filter", kindOf(t))
	}
	return f["update_filter"], nil
}

func pointsList(raw json.RawMessage) ([]service.PointInput, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil || elems == nil {
		return nil, apierr.Format("points: expected an array of points, got %s", kindOf(raw))
	}
	out := make([]service.PointInput, len(elems))
	for i, e := range elems {
		pf, err := members(e, "points", "id", "vector", "payload")
		if err != nil {
			return nil, err
		}
		if _, ok := pf["id"]; !ok {
			return nil, apierr.Format("points: missing field `id`")
		}
		if out[i].ID, err = pointID(pf["id"], "points.id"); err != nil {
			return nil, err
		}
		if out[i].Vectors, err = vectorStruct(pf["vector"], "points.vector"); err != nil {
			return nil, err
		}
		if out[i].Payload, err = payload(pf["payload"], "points.payload"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// payload checks a Payload: a JSON object, or null/absent for none.
func payload(raw json.RawMessage, what string) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	if t := bytes.TrimSpace(raw); t[0] != '{' {
		return nil, apierr.Format("%s: invalid type: %s, expected a map", what, kindOf(t))
	}
	return raw, nil
}

func pointsBatch(raw json.RawMessage) ([]service.PointInput, error) {
	f, err := members(raw, "batch", "ids", "vectors", "payloads")
	if err != nil {
		return nil, err
	}
	if _, ok := f["ids"]; !ok {
		return nil, apierr.Format("batch: missing field `ids`")
	}
	ids, err := pointIDs(f["ids"], "batch.ids")
	if err != nil {
		return nil, err
	}
	out := make([]service.PointInput, len(ids))
	for i, id := range ids {
		out[i] = service.PointInput{ID: id, Vectors: map[string][]float32{}}
	}
	vecs := bytes.TrimSpace(f["vectors"])
	switch {
	case len(vecs) == 0 || string(vecs) == "null":
		return nil, apierr.Format("batch: missing field `vectors`")
	case vecs[0] == '[':
		if err := batchVectors(vecs, "", out); err != nil {
			return nil, err
		}
	case vecs[0] == '{':
		named, err := members(vecs, "batch.vectors")
		if err != nil {
			return nil, err
		}
		for name, list := range named {
			if err := batchVectors(list, name, out); err != nil {
				return nil, err
			}
		}
	default:
		return nil, apierr.Format("batch.vectors: expected a list of vectors or an object of named vector lists, got %s", kindOf(vecs))
	}
	if f.present("payloads") {
		var payloads []json.RawMessage
		if err := json.Unmarshal(f["payloads"], &payloads); err != nil {
			return nil, apierr.Format("batch.payloads: expected an array, got %s", kindOf(f["payloads"]))
		}
		if len(payloads) != len(ids) {
			return nil, apierr.BadInput("number of ids and payloads must be equal: %d ids, %d payloads", len(ids), len(payloads))
		}
		for i, p := range payloads {
			if out[i].Payload, err = payload(p, "batch.payloads"); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// batchVectors decodes one list of vectors of a batch into the points.
func batchVectors(raw json.RawMessage, name string, out []service.PointInput) error {
	what := "batch.vectors"
	if name != "" {
		what += "." + name
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil || elems == nil {
		return apierr.Format("%s: expected a list of vectors, got %s", what, kindOf(raw))
	}
	if len(elems) != len(out) {
		return apierr.BadInput("number of ids and vectors must be equal: %d ids, %d vectors", len(out), len(elems))
	}
	for i, e := range elems {
		t := bytes.TrimSpace(e)
		switch {
		case len(t) > 0 && t[0] == '{':
			return apierr.Unsupported("sparse and inference vectors")
		case isArrayOfArrays(t):
			return apierr.Unsupported("multivectors")
		}
		v, err := floats(t, what)
		if err != nil {
			return err
		}
		out[i].Vectors[name] = v
	}
	return nil
}
