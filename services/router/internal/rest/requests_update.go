package rest

import (
	"encoding/json"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Decoders of the point-update requests (delete, payload, vectors, batch)
// and of payload index creation.

// selector decodes the points / filter members that every selecting
// request shares; one of them is required.
func selector(f fields) (service.PointSelector, error) {
	var sel service.PointSelector
	var err error
	if sel.ShardKey, err = shardKeySelector(f); err != nil {
		return sel, err
	}
	if sel.Filter, err = filterField(f); err != nil {
		return sel, err
	}
	hasPoints := f.present("points")
	switch {
	case hasPoints && sel.Filter != nil:
		return sel, apierr.Format("expected either `points` or `filter`, not both")
	case hasPoints:
		sel.IDs, err = pointIDs(f["points"], "points")
		return sel, err
	case sel.Filter == nil:
		return sel, apierr.Format("missing field `points` or `filter`")
	}
	return sel, nil
}

// decodePointsSelector decodes PointsSelector: {"points": [ids]} or
// {"filter": {…}}.
func decodePointsSelector(body []byte) (service.PointSelector, error) {
	f, err := object(body, false, "points", "filter", "shard_key")
	if err != nil {
		return service.PointSelector{}, err
	}
	return selector(f)
}

// decodeSetPayload decodes SetPayload.
func decodeSetPayload(body []byte) (service.SetPayloadRequest, error) {
	var req service.SetPayloadRequest
	f, err := object(body, false, "payload", "points", "filter", "shard_key", "key")
	if err != nil {
		return req, err
	}
	if !f.present("payload") {
		return req, apierr.Format("missing field `payload`")
	}
	if req.Payload, err = payload(f["payload"], "payload"); err != nil {
		return req, err
	}
	if key, err := f.stringField("key"); err != nil {
		return req, err
	} else if key != nil {
		req.Key = *key
	}
	req.Selector, err = selector(f)
	return req, err
}

// decodeDeletePayload decodes DeletePayload.
func decodeDeletePayload(body []byte) (service.DeletePayloadRequest, error) {
	var req service.DeletePayloadRequest
	f, err := object(body, false, "keys", "points", "filter", "shard_key")
	if err != nil {
		return req, err
	}
	if !f.present("keys") {
		return req, apierr.Format("missing field `keys`")
	}
	if req.Keys, err = stringList(f["keys"], "keys"); err != nil {
		return req, err
	}
	req.Selector, err = selector(f)
	return req, err
}

// decodeUpdateVectors decodes UpdateVectors.
func decodeUpdateVectors(body []byte) (service.UpdateVectorsRequest, error) {
	var req service.UpdateVectorsRequest
	f, err := object(body, false, "points", "shard_key", "update_filter")
	if err != nil {
		return req, err
	}
	if req.ShardKey, err = shardKeySelector(f); err != nil {
		return req, err
	}
	if req.UpdateFilter, err = updateFilter(f); err != nil {
		return req, err
	}
	if !f.present("points") {
		return req, apierr.Format("missing field `points`")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(f["points"], &elems); err != nil || elems == nil {
		return req, apierr.Format("points: expected an array of points, got %s", kindOf(f["points"]))
	}
	if len(elems) == 0 {
		return req, apierr.Invalid("points", "must contain at least 1 item")
	}
	req.Points = make([]service.PointVectors, len(elems))
	for i, e := range elems {
		pf, err := members(e, "points", "id", "vector")
		if err != nil {
			return req, err
		}
		if _, ok := pf["id"]; !ok {
			return req, apierr.Format("points: missing field `id`")
		}
		if req.Points[i].ID, err = pointID(pf["id"], "points.id"); err != nil {
			return req, err
		}
		if req.Points[i].Vectors, err = vectorStruct(pf["vector"], "points.vector"); err != nil {
			return req, err
		}
	}
	return req, nil
}

// decodeDeleteVectors decodes DeleteVectors.
func decodeDeleteVectors(body []byte) (service.DeleteVectorsRequest, error) {
	var req service.DeleteVectorsRequest
	f, err := object(body, false, "points", "filter", "vector", "shard_key")
	if err != nil {
		return req, err
	}
	if !f.present("vector") {
		return req, apierr.Format("missing field `vector`")
	}
	if req.Names, err = stringList(f["vector"], "vector"); err != nil {
		return req, err
	}
	req.Selector, err = selector(f)
	return req, err
}

// decodeBatch decodes UpdateOperations: a list of single-member objects
// naming the operation.
func decodeBatch(body []byte) ([]service.UpdateOperation, error) {
	f, err := object(body, false, "operations")
	if err != nil {
		return nil, err
	}
	if !f.present("operations") {
		return nil, apierr.Format("missing field `operations`")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(f["operations"], &elems); err != nil || elems == nil {
		return nil, apierr.Format("operations: expected an array, got %s", kindOf(f["operations"]))
	}
	kinds := []string{"upsert", "delete", "set_payload", "overwrite_payload", "delete_payload", "clear_payload", "update_vectors", "delete_vectors"}
	out := make([]service.UpdateOperation, len(elems))
	for i, e := range elems {
		of, err := members(e, "operations", kinds...)
		if err != nil {
			return nil, err
		}
		if len(of) != 1 {
			return nil, apierr.Format("operations: each operation must have exactly one of %s", quoteList(kinds))
		}
		for kind, raw := range of {
			if isNull(raw) {
				return nil, apierr.Format("operations.%s: expected an object, got null", kind)
			}
			if out[i], err = batchOperation(kind, raw); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func batchOperation(kind string, raw json.RawMessage) (service.UpdateOperation, error) {
	var op service.UpdateOperation
	var err error
	switch kind {
	case "upsert":
		var req service.UpsertRequest
		req, err = decodeUpsert(raw)
		op.Upsert = &req
	case "delete":
		var sel service.PointSelector
		sel, err = decodePointsSelector(raw)
		op.Delete = &sel
	case "set_payload", "overwrite_payload":
		var req service.SetPayloadRequest
		req, err = decodeSetPayload(raw)
		if kind == "set_payload" {
			op.SetPayload = &req
		} else {
			op.OverwritePayload = &req
		}
	case "delete_payload":
		var req service.DeletePayloadRequest
		req, err = decodeDeletePayload(raw)
		op.DeletePayload = &req
	case "clear_payload":
		var sel service.PointSelector
		sel, err = decodePointsSelector(raw)
		op.ClearPayload = &sel
	case "update_vectors":
		var req service.UpdateVectorsRequest
		req, err = decodeUpdateVectors(raw)
		op.UpdateVectors = &req
	case "delete_vectors":
		var req service.DeleteVectorsRequest
		req, err = decodeDeleteVectors(raw)
		op.DeleteVectors = &req
	}
	return op, err
}

// decodeCreateIndex decodes CreateFieldIndex.
func decodeCreateIndex(body []byte) (string, json.RawMessage, error) {
	f, err := object(body, false, "field_name", "field_schema")
	if err != nil {
		return "", nil, err
	}
	name, err := f.stringField("field_name")
	if err != nil {
		return "", nil, err
	}
	if name == nil {
		return "", nil, apierr.Format("missing field `field_name`")
	}
	return *name, f["field_schema"], nil
}
