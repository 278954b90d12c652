package grpcapi

import (
	"context"

	"github.com/qdrant/go-client/qdrant"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// writeRequest is what every point-changing request of qdrant.Points has.
type writeRequest interface {
	GetCollectionName() string
	GetWait() bool
}

// pointsWrite registers a point-changing RPC: convert turns the request
// into the service's form, apply runs it on the request's collection.
func pointsWrite[Req any, P interface {
	*Req
	writeRequest
}, T any](s *Server, procedure string, convert func(P) (T, error), apply func(ctx context.Context, collection string, v T, wait bool) (service.UpdateResult, error)) {
	unary(s, procedure, true, func(ctx context.Context, req *Req) (*qdrant.PointsOperationResponse, error) {
		r := P(req)
		v, err := convert(r)
		if err != nil {
			return nil, err
		}
		return operation(apply(ctx, r.GetCollectionName(), v, r.GetWait()))
	})
}

// The point-changing RPCs of qdrant.Points.
func (s *Server) registerPoints() {
	pointsWrite(s, "/qdrant.Points/Upsert", upsertPoints, s.svc.Upsert)
	pointsWrite(s, "/qdrant.Points/Delete", func(req *qdrant.DeletePoints) (service.PointSelector, error) {
		return selectorWithKeys(req.GetPoints(), req.GetShardKeySelector())
	}, s.svc.DeletePoints)
	pointsWrite(s, "/qdrant.Points/SetPayload", setPayload, s.svc.SetPayload)
	pointsWrite(s, "/qdrant.Points/OverwritePayload", setPayload, s.svc.OverwritePayload)
	pointsWrite(s, "/qdrant.Points/DeletePayload", deletePayload, s.svc.DeletePayload)
	pointsWrite(s, "/qdrant.Points/ClearPayload", func(req *qdrant.ClearPayloadPoints) (service.PointSelector, error) {
		return selectorWithKeys(req.GetPoints(), req.GetShardKeySelector())
	}, s.svc.ClearPayload)
	pointsWrite(s, "/qdrant.Points/UpdateVectors", updateVectors, s.svc.UpdateVectors)
	pointsWrite(s, "/qdrant.Points/DeleteVectors", deleteVectors, s.svc.DeleteVectors)
	unary(s, "/qdrant.Points/CreateFieldIndex", true, func(ctx context.Context, req *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
		schema, err := fieldSchema(req.GetFieldType(), req.GetFieldIndexParams(), req.FieldType != nil)
		if err != nil {
			return nil, err
		}
		return operation(s.svc.CreateFieldIndex(ctx, req.GetCollectionName(), req.GetFieldName(), schema, req.GetWait()))
	})
	unary(s, "/qdrant.Points/DeleteFieldIndex", true, func(ctx context.Context, req *qdrant.DeleteFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
		return operation(s.svc.DeleteFieldIndex(ctx, req.GetCollectionName(), req.GetFieldName(), req.GetWait()))
	})
	unary(s, "/qdrant.Points/UpdateBatch", true, func(ctx context.Context, req *qdrant.UpdateBatchPoints) (*qdrant.UpdateBatchResponse, error) {
		ops := make([]service.UpdateOperation, len(req.GetOperations()))
		for i, op := range req.GetOperations() {
			var err error
			if ops[i], err = batchOperation(op); err != nil {
				return nil, err
			}
		}
		results, err := s.svc.BatchUpdate(ctx, req.GetCollectionName(), ops, req.GetWait())
		if err != nil {
			return nil, err
		}
		out := &qdrant.UpdateBatchResponse{Result: make([]*qdrant.UpdateResult, len(results))}
		for i, r := range results {
			out.Result[i] = updateResult(r)
		}
		return out, nil
	})
}

// upsertPoints converts an Upsert request, its shard key selector included.
func upsertPoints(req *qdrant.UpsertPoints) (service.UpsertRequest, error) {
	ks, err := keySelector(req.GetShardKeySelector())
	if err != nil {
		return service.UpsertRequest{}, err
	}
	up, err := upsertRequest(req.GetPoints(), req.GetUpdateFilter(), req.GetUpdateMode())
	if err != nil {
		return service.UpsertRequest{}, err
	}
	up.ShardKey = ks
	return up, nil
}

func operation(r service.UpdateResult, err error) (*qdrant.PointsOperationResponse, error) {
	if err != nil {
		return nil, err
	}
	return &qdrant.PointsOperationResponse{Result: updateResult(r)}, nil
}

// updateModes maps Qdrant's update modes to Shoal's.
var updateModes = map[qdrant.UpdateMode]shoalv1.UpdateMode{
	qdrant.UpdateMode_Upsert:     shoalv1.UpdateMode_UPDATE_MODE_UPSERT,
	qdrant.UpdateMode_InsertOnly: shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY,
	qdrant.UpdateMode_UpdateOnly: shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY,
}

// upsertRequest converts the points and conditions of an upsert (the
// Upsert RPC or an upsert of UpdateBatch).
func upsertRequest(points []*qdrant.PointStruct, updateFilter *qdrant.Filter, mode qdrant.UpdateMode) (service.UpsertRequest, error) {
	var req service.UpsertRequest
	m, ok := updateModes[mode]
	if !ok {
		return req, apierr.Format("update_mode: unknown value %d", int32(mode))
	}
	req.Mode = m
	var err error
	if updateFilter != nil {
		if req.UpdateFilter, err = filterJSON(updateFilter); err != nil {
			return req, err
		}
	}
	if req.Points, err = pointStructs(points); err != nil {
		return req, err
	}
	if req.Points == nil {
		req.Points = []service.PointInput{}
	}
	return req, nil
}

func pointStructs(in []*qdrant.PointStruct) ([]service.PointInput, error) {
	out := make([]service.PointInput, len(in))
	for i, p := range in {
		var err error
		if out[i].ID, err = pointID(p.GetId()); err != nil {
			return nil, err
		}
		if out[i].Vectors, err = vectors(p.GetVectors()); err != nil {
			return nil, err
		}
		if out[i].Payload, err = payloadToJSON(p.GetPayload()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func setPayload(req *qdrant.SetPayloadPoints) (service.SetPayloadRequest, error) {
	var sp service.SetPayloadRequest
	var err error
	if sp.Selector, err = selectorWithKeys(req.GetPointsSelector(), req.GetShardKeySelector()); err != nil {
		return sp, err
	}
	if sp.Payload, err = payloadToJSON(req.GetPayload()); err != nil {
		return sp, err
	}
	sp.Key = req.GetKey()
	return sp, nil
}

func deletePayload(req *qdrant.DeletePayloadPoints) (service.DeletePayloadRequest, error) {
	var dp service.DeletePayloadRequest
	var err error
	dp.Keys = req.GetKeys()
	dp.Selector, err = selectorWithKeys(req.GetPointsSelector(), req.GetShardKeySelector())
	return dp, err
}

func updateVectors(req *qdrant.UpdatePointVectors) (service.UpdateVectorsRequest, error) {
	ks, err := keySelector(req.GetShardKeySelector())
	if err != nil {
		return service.UpdateVectorsRequest{}, err
	}
	uv, err := updateVectorsRequest(req.GetPoints(), req.GetUpdateFilter())
	uv.ShardKey = ks
	return uv, err
}

// selectorWithKeys converts a points selector and the shard key selector
// that goes with it.
func selectorWithKeys(ps *qdrant.PointsSelector, keys *qdrant.ShardKeySelector) (service.PointSelector, error) {
	ks, err := keySelector(keys)
	if err != nil {
		return service.PointSelector{}, err
	}
	sel, err := selector(ps)
	sel.ShardKey = ks
	return sel, err
}

// updateVectorsRequest converts the points and update filter of a vector
// update (the UpdateVectors RPC or an operation of UpdateBatch).
func updateVectorsRequest(points []*qdrant.PointVectors, updateFilter *qdrant.Filter) (service.UpdateVectorsRequest, error) {
	var req service.UpdateVectorsRequest
	var err error
	if updateFilter != nil {
		if req.UpdateFilter, err = filterJSON(updateFilter); err != nil {
			return req, err
		}
	}
	req.Points, err = pointVectors(points)
	return req, err
}

func pointVectors(in []*qdrant.PointVectors) ([]service.PointVectors, error) {
	out := make([]service.PointVectors, len(in))
	for i, p := range in {
		var err error
		if out[i].ID, err = pointID(p.GetId()); err != nil {
			return nil, err
		}
		if out[i].Vectors, err = vectors(p.GetVectors()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func deleteVectors(req *qdrant.DeletePointVectors) (service.DeleteVectorsRequest, error) {
	var dv service.DeleteVectorsRequest
	var err error
	dv.Names = req.GetVectors().GetNames()
	dv.Selector, err = selectorWithKeys(req.GetPointsSelector(), req.GetShardKeySelector())
	return dv, err
}

// batchOperation converts one operation of UpdateBatch.
func batchOperation(op *qdrant.PointsUpdateOperation) (service.UpdateOperation, error) {
	var out service.UpdateOperation
	var err error
	switch k := op.GetOperation().(type) {
	case *qdrant.PointsUpdateOperation_Upsert:
		var ks *routing.KeySelector
		if ks, err = keySelector(k.Upsert.GetShardKeySelector()); err != nil {
			return out, err
		}
		var req service.UpsertRequest
		req, err = upsertRequest(k.Upsert.GetPoints(), k.Upsert.GetUpdateFilter(), k.Upsert.GetUpdateMode())
		req.ShardKey = ks
		out.Upsert = &req
	case *qdrant.PointsUpdateOperation_DeleteDeprecated:
		var sel service.PointSelector
		sel, err = selector(k.DeleteDeprecated)
		out.Delete = &sel
	case *qdrant.PointsUpdateOperation_DeletePoints_:
		var sel service.PointSelector
		sel, err = selectorWithKeys(k.DeletePoints.GetPoints(), k.DeletePoints.GetShardKeySelector())
		out.Delete = &sel
	case *qdrant.PointsUpdateOperation_SetPayload_:
		out.SetPayload, err = batchSetPayload(k.SetPayload)
	case *qdrant.PointsUpdateOperation_OverwritePayload_:
		out.OverwritePayload, err = batchSetPayload(k.OverwritePayload)
	case *qdrant.PointsUpdateOperation_DeletePayload_:
		var sel service.PointSelector
		sel, err = selectorWithKeys(k.DeletePayload.GetPointsSelector(), k.DeletePayload.GetShardKeySelector())
		out.DeletePayload = &service.DeletePayloadRequest{Keys: k.DeletePayload.GetKeys(), Selector: sel}
	case *qdrant.PointsUpdateOperation_ClearPayloadDeprecated:
		var sel service.PointSelector
		sel, err = selector(k.ClearPayloadDeprecated)
		out.ClearPayload = &sel
	case *qdrant.PointsUpdateOperation_ClearPayload_:
		var sel service.PointSelector
		sel, err = selectorWithKeys(k.ClearPayload.GetPoints(), k.ClearPayload.GetShardKeySelector())
		out.ClearPayload = &sel
	case *qdrant.PointsUpdateOperation_UpdateVectors_:
		var ks *routing.KeySelector
		if ks, err = keySelector(k.UpdateVectors.GetShardKeySelector()); err != nil {
			return out, err
		}
		var req service.UpdateVectorsRequest
		req, err = updateVectorsRequest(k.UpdateVectors.GetPoints(), k.UpdateVectors.GetUpdateFilter())
		req.ShardKey = ks
		out.UpdateVectors = &req
	case *qdrant.PointsUpdateOperation_DeleteVectors_:
		var sel service.PointSelector
		sel, err = selectorWithKeys(k.DeleteVectors.GetPointsSelector(), k.DeleteVectors.GetShardKeySelector())
		out.DeleteVectors = &service.DeleteVectorsRequest{Selector: sel, Names: k.DeleteVectors.GetVectors().GetNames()}
	default:
		return out, apierr.Format("empty update operation")
	}
	return out, err
}

// setPayloader is the shape of the batch set and overwrite operations.
type setPayloader interface {
	GetShardKeySelector() *qdrant.ShardKeySelector
	GetPointsSelector() *qdrant.PointsSelector
	GetPayload() map[string]*qdrant.Value
	GetKey() string
}

func batchSetPayload(sp setPayloader) (*service.SetPayloadRequest, error) {
	sel, err := selectorWithKeys(sp.GetPointsSelector(), sp.GetShardKeySelector())
	if err != nil {
		return nil, err
	}
	payload, err := payloadToJSON(sp.GetPayload())
	if err != nil {
		return nil, err
	}
	return &service.SetPayloadRequest{Payload: payload, Selector: sel, Key: sp.GetKey()}, nil
}
