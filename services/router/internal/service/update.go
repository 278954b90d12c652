package service

import (
	"context"
	"encoding/json"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// SetPayloadRequest merges (or, for OverwritePayload, replaces) the
// payload of the selected points.
type SetPayloadRequest struct {
	// Payload is a JSON object.
	Payload  json.RawMessage
	Selector PointSelector
	// Key, if set, is a nested path (a.b[].c) under which Payload is
	// merged.
	Key string
}

// DeletePayloadRequest removes payload keys from the selected points.
type DeletePayloadRequest struct {
	Keys     []string
	Selector PointSelector
}

// PointVectors replaces some vectors of one point.
type PointVectors struct {
	ID      *shoalv1.PointID
	Vectors map[string][]float32
}

// UpdateVectorsRequest replaces vectors of existing points.
type UpdateVectorsRequest struct {
	Points []PointVectors
	// UpdateFilter (a Qdrant filter; nil for none) limits the update to
	// the listed points that match it.
	UpdateFilter json.RawMessage
	// ShardKey restricts the update to these shard keys (custom
	// sharding); nil for every shard.
	ShardKey *routing.KeySelector
}

// DeleteVectorsRequest removes named vectors from the selected points.
type DeleteVectorsRequest struct {
	Selector PointSelector
	Names    []string
}

// UpdateOperation is one operation of a batch update: exactly one member
// is set.
type UpdateOperation struct {
	Upsert           *UpsertRequest
	Delete           *PointSelector
	SetPayload       *SetPayloadRequest
	OverwritePayload *SetPayloadRequest
	DeletePayload    *DeletePayloadRequest
	ClearPayload     *PointSelector
	UpdateVectors    *UpdateVectorsRequest
	DeleteVectors    *DeleteVectorsRequest
}

// DeletePoints deletes the selected points (by ids or by filter); ids
// that do not exist are ignored.
func (s *Service) DeletePoints(ctx context.Context, collection string, sel PointSelector, wait bool) (UpdateResult, error) {
	return s.updateOne(ctx, collection, UpdateOperation{Delete: &sel}, wait)
}

// SetPayload merges payload into the selected points.
func (s *Service) SetPayload(ctx context.Context, collection string, req SetPayloadRequest, wait bool) (UpdateResult, error) {
	return s.updateOne(ctx, collection, UpdateOperation{SetPayload: &req}, wait)
}

// OverwritePayload replaces the payload of the selected points.
func (s *Service) OverwritePayload(ctx context.Context, collection string, req SetPayloadRequest, wait bool) (UpdateResult, error) {
	return s.updateOne(ctx, collection, UpdateOperation{OverwritePayload: &req}, wait)
}

// DeletePayload removes keys from the payload of the selected points.
func (s *Service) DeletePayload(ctx context.Context, collection string, req DeletePayloadRequest, wait bool) (UpdateResult, error) {
	return s.updateOne(ctx, collection, UpdateOperation{DeletePayload: &req}, wait)
}

// ClearPayload removes the whole payload of the selected points.
func (s *Service) ClearPayload(ctx context.Context, collection string, sel PointSelector, wait bool) (UpdateResult, error) {
	return s.updateOne(ctx, collection, UpdateOperation{ClearPayload: &sel}, wait)
}

// UpdateVectors replaces the given vectors of existing points; their other
// vectors and payload stay.
func (s *Service) UpdateVectors(ctx context.Context, collection string, req UpdateVectorsRequest, wait bool) (UpdateResult, error) {
	return s.updateOne(ctx, collection, UpdateOperation{UpdateVectors: &req}, wait)
}

// DeleteVectors removes named vectors from the selected points.
func (s *Service) DeleteVectors(ctx context.Context, collection string, req DeleteVectorsRequest, wait bool) (UpdateResult, error) {
	return s.updateOne(ctx, collection, UpdateOperation{DeleteVectors: &req}, wait)
}

// BatchUpdate validates every operation, then applies them in order, each
// on every shard it concerns before the next starts, and returns one
// result per operation. An operation the storage rejects (a filter it
// cannot evaluate, say) fails the request with the operations before it
// applied, as in Qdrant.
func (s *Service) BatchUpdate(ctx context.Context, collection string, ops []UpdateOperation, wait bool) ([]UpdateResult, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return nil, err
	}
	plans := make([]plannedOp, len(ops))
	targets := make([]*routing.Collection, len(ops))
	for i, op := range ops {
		if targets[i], err = c.Select(op.shardKey()); err != nil {
			return nil, err
		}
		if plans[i], err = planOp(targets[i], op); err != nil {
			return nil, err
		}
	}
	out := make([]UpdateResult, len(ops))
	for i, p := range plans {
		if out[i], err = s.run(ctx, targets[i], p, wait); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) updateOne(ctx context.Context, collection string, op UpdateOperation, wait bool) (UpdateResult, error) {
	c, err := s.target(collection, op.shardKey())
	if err != nil {
		return UpdateResult{}, err
	}
	p, err := planOp(c, op)
	if err != nil {
		return UpdateResult{}, err
	}
	return s.run(ctx, c, p, wait)
}

// shardKey returns the shard key selector of the operation (nil: none).
func (op UpdateOperation) shardKey() *routing.KeySelector {
	switch {
	case op.Upsert != nil:
		return op.Upsert.ShardKey
	case op.Delete != nil:
		return op.Delete.ShardKey
	case op.SetPayload != nil:
		return op.SetPayload.Selector.ShardKey
	case op.OverwritePayload != nil:
		return op.OverwritePayload.Selector.ShardKey
	case op.DeletePayload != nil:
		return op.DeletePayload.Selector.ShardKey
	case op.ClearPayload != nil:
		return op.ClearPayload.ShardKey
	case op.UpdateVectors != nil:
		return op.UpdateVectors.ShardKey
	case op.DeleteVectors != nil:
		return op.DeleteVectors.Selector.ShardKey
	}
	return nil
}

// plannedOp is a validated operation ready to send: points to upsert or
// ids to delete (the storage's Upsert and DeletePoints calls), one
// operation per shard (other selections by ids), or one operation for
// every shard (selection by filter, field indexes). The zero value writes
// nothing.
type plannedOp struct {
	upsert   []*shoalv1.Point
	delete   []*shoalv1.PointID
	perShard map[uint32]*shoalv1.Operation
	all      *shoalv1.Operation
}

func (s *Service) run(ctx context.Context, c *routing.Collection, p plannedOp, wait bool) (UpdateResult, error) {
	switch {
	case p.all != nil:
		return s.opt.Router.ApplyAll(ctx, c, p.all, wait)
	case len(p.upsert) > 0:
		return s.opt.Router.Upsert(ctx, c, p.upsert, wait)
	case len(p.delete) > 0:
		return s.opt.Router.Delete(ctx, c, p.delete, wait)
	case len(p.perShard) > 0:
		return s.opt.Router.Apply(ctx, c, p.perShard, wait)
	}
	return UpdateResult{Completed: true}, nil
}

// planOp validates an operation against the collection and splits it by
// shard.
func planOp(c *routing.Collection, op UpdateOperation) (plannedOp, error) {
	switch {
	case op.Upsert != nil:
		return planUpsertOp(c, *op.Upsert)
	case op.Delete != nil && isNull(op.Delete.Filter):
		// By ids: the storage's DeletePoints call, like the upserts.
		if _, err := checkSelector(*op.Delete); err != nil {
			return plannedOp{}, err
		}
		return plannedOp{delete: dedupeIDs(op.Delete.IDs)}, nil
	case op.Delete != nil:
		return bySelector(c, *op.Delete, func(sel *shoalv1.PointSelector) *shoalv1.Operation {
			return &shoalv1.Operation{Kind: &shoalv1.Operation_Delete{Delete: &shoalv1.DeletePoints{Ids: sel.Ids, Filter: sel.Filter}}}
		})
	case op.SetPayload != nil, op.OverwritePayload != nil:
		return planSetPayload(c, op)
	case op.DeletePayload != nil:
		keys := op.DeletePayload.Keys
		for _, k := range keys {
			if k == "" {
				return plannedOp{}, apierr.BadInput("payload key must not be empty")
			}
		}
		if len(keys) == 0 {
			return plannedOp{}, nil
		}
		return bySelector(c, op.DeletePayload.Selector, func(sel *shoalv1.PointSelector) *shoalv1.Operation {
			return &shoalv1.Operation{Kind: &shoalv1.Operation_DeletePayload{DeletePayload: &shoalv1.DeletePayload{Selector: sel, Keys: keys}}}
		})
	case op.ClearPayload != nil:
		return bySelector(c, *op.ClearPayload, func(sel *shoalv1.PointSelector) *shoalv1.Operation {
			return &shoalv1.Operation{Kind: &shoalv1.Operation_ClearPayload{ClearPayload: sel}}
		})
	case op.UpdateVectors != nil:
		return planUpdateVectors(c, *op.UpdateVectors)
	case op.DeleteVectors != nil:
		names := op.DeleteVectors.Names
		if len(names) == 0 {
			return plannedOp{}, apierr.Invalid("vector", "must contain at least one vector name")
		}
		for _, n := range names {
			if _, ok := c.Meta.GetConfig().GetVectors()[n]; !ok {
				return plannedOp{}, apierr.BadInput("Not existing vector name error: %s", n)
			}
		}
		return bySelector(c, op.DeleteVectors.Selector, func(sel *shoalv1.PointSelector) *shoalv1.Operation {
			return &shoalv1.Operation{Kind: &shoalv1.Operation_DeleteVectors{DeleteVectors: &shoalv1.DeleteVectors{Selector: sel, Names: names}}}
		})
	}
	return plannedOp{}, apierr.Format("empty update operation")
}

// bySelector builds the operation for a point selector: with a filter, the
// same operation for every shard; with ids, each shard's own ids.
func bySelector(c *routing.Collection, sel PointSelector, build func(*shoalv1.PointSelector) *shoalv1.Operation) (plannedOp, error) {
	filter, err := checkSelector(sel)
	if err != nil {
		return plannedOp{}, err
	}
	if filter != nil {
		return plannedOp{all: build(&shoalv1.PointSelector{Filter: filter})}, nil
	}
	per := map[uint32]*shoalv1.Operation{}
	for shard, ids := range routing.SplitIDs(c, dedupeIDs(sel.IDs)) {
		per[shard] = build(&shoalv1.PointSelector{Ids: ids})
	}
	return plannedOp{perShard: per}, nil
}

func planSetPayload(c *routing.Collection, op UpdateOperation) (plannedOp, error) {
	req, overwrite := op.SetPayload, false
	if req == nil {
		req, overwrite = op.OverwritePayload, true
	}
	payload, err := checkPayloadObject(req.Payload)
	if err != nil {
		return plannedOp{}, err
	}
	return bySelector(c, req.Selector, func(sel *shoalv1.PointSelector) *shoalv1.Operation {
		sp := &shoalv1.SetPayload{Selector: sel, Payload: payload, Key: req.Key}
		if overwrite {
			return &shoalv1.Operation{Kind: &shoalv1.Operation_OverwritePayload{OverwritePayload: sp}}
		}
		return &shoalv1.Operation{Kind: &shoalv1.Operation_SetPayload{SetPayload: sp}}
	})
}

// checkPayloadObject requires a JSON object (null or absent is an empty
// one) and returns it compacted.
func checkPayloadObject(raw json.RawMessage) ([]byte, error) {
	if isNull(raw) {
		return []byte("{}"), nil
	}
	c := compact(raw)
	if len(c) == 0 || c[0] != '{' {
		return nil, apierr.Format("payload: expected an object")
	}
	return c, nil
}

func planUpdateVectors(c *routing.Collection, req UpdateVectorsRequest) (plannedOp, error) {
	points := req.Points
	filter, err := checkFilterAt(req.UpdateFilter, "update_filter")
	if err != nil {
		return plannedOp{}, err
	}
	last := map[string]int{}
	for i, p := range points {
		if p.ID == nil || p.ID.GetKind() == nil {
			return plannedOp{}, apierr.Format("points: missing field `id`")
		}
		if len(p.Vectors) == 0 {
			return plannedOp{}, apierr.BadInput("point %s: no vectors to update", pointid.String(p.ID))
		}
		for name, v := range p.Vectors {
			if err := checkVector(c, name, v); err != nil {
				return plannedOp{}, err
			}
		}
		last[string(pointid.Key(p.ID))] = i
	}
	var pvs []*shoalv1.PointVectors
	for i, p := range points {
		if last[string(pointid.Key(p.ID))] != i {
			continue // the last update of a point wins
		}
		pv := &shoalv1.PointVectors{Id: p.ID, Vectors: make(map[string]*shoalv1.Vector, len(p.Vectors))}
		for name, v := range p.Vectors {
			pv.Vectors[name] = &shoalv1.Vector{Data: v}
		}
		pvs = append(pvs, pv)
	}
	per := map[uint32]*shoalv1.Operation{}
	for shard, list := range routing.SplitVectors(c, pvs) {
		per[shard] = &shoalv1.Operation{Kind: &shoalv1.Operation_UpdateVectors{UpdateVectors: &shoalv1.UpdateVectors{Points: list, UpdateFilter: filter}}}
	}
	return plannedOp{perShard: per}, nil
}
