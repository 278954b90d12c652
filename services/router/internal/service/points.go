package service

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// UpsertRequest is a point upsert with Qdrant's conditions.
type UpsertRequest struct {
	Points []PointInput
	// UpdateFilter (a Qdrant filter; nil for none) limits the existing
	// points replaced to those matching it; points that do not exist are
	// inserted regardless (unless Mode is update_only).
	UpdateFilter json.RawMessage
	// Mode is upsert (the zero value), insert_only or update_only.
	Mode shoalv1.UpdateMode
	// ShardKey names the shard key(s) the points go to; required for a
	// collection with custom sharding.
	ShardKey *routing.KeySelector
}

// Upsert validates and writes points. Every point is checked before
// anything is sent, so a bad point fails the whole request without a
// partial write. When an id occurs more than once the last occurrence
// wins, as if the points were applied in order. An empty list succeeds
// without a write. The storage nodes judge the update filter and mode
// when they apply the write, against the points as stored then.
func (s *Service) Upsert(ctx context.Context, collection string, req UpsertRequest, wait bool) (UpdateResult, error) {
	return s.updateOne(ctx, collection, UpdateOperation{Upsert: &req}, wait)
}

// planUpsertOp plans an upsert: the storage's Upsert call for a plain
// one, one conditional operation per shard otherwise.
func planUpsertOp(c *routing.Collection, req UpsertRequest) (plannedOp, error) {
	if err := c.Writable(); err != nil {
		return plannedOp{}, err
	}
	pts, err := planUpsert(c, req.Points)
	if err != nil {
		return plannedOp{}, err
	}
	filter, err := checkFilterAt(req.UpdateFilter, "update_filter")
	if err != nil {
		return plannedOp{}, err
	}
	if _, ok := shoalv1.UpdateMode_name[int32(req.Mode)]; !ok {
		return plannedOp{}, apierr.Format("update_mode: unknown variant %d, expected one of `upsert`, `insert_only`, `update_only`", int32(req.Mode))
	}
	if filter == nil && req.Mode == shoalv1.UpdateMode_UPDATE_MODE_UPSERT {
		return plannedOp{upsert: pts}, nil
	}
	per := map[uint32]*shoalv1.Operation{}
	for shard, list := range routing.SplitPoints(c, pts) {
		per[shard] = &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{
			Points: list, UpdateFilter: filter, UpdateMode: req.Mode,
		}}}
	}
	return plannedOp{perShard: per}, nil
}

// planUpsert validates points and keeps the last occurrence of each id.
func planUpsert(c *routing.Collection, points []PointInput) ([]*shoalv1.Point, error) {
	last := map[string]int{}
	for i, p := range points {
		if p.ID == nil || p.ID.GetKind() == nil {
			return nil, apierr.Format("point %d: missing field `id`", i)
		}
		if err := checkPointVectors(c, p.Vectors); err != nil {
			return nil, err
		}
		if t := bytes.TrimSpace(p.Payload); len(t) > 0 && string(t) != "null" && t[0] != '{' {
			return nil, apierr.Format("payload of point %s must be an object", pointid.String(p.ID))
		}
		last[string(pointid.Key(p.ID))] = i
	}
	out := make([]*shoalv1.Point, 0, len(last))
	for i, p := range points {
		if last[string(pointid.Key(p.ID))] != i {
			continue
		}
		sp := &shoalv1.Point{Id: p.ID, Vectors: make(map[string]*shoalv1.Vector, len(p.Vectors))}
		for name, v := range p.Vectors {
			sp.Vectors[name] = &shoalv1.Vector{Data: v}
		}
		if t := bytes.TrimSpace(p.Payload); len(t) > 0 && string(t) != "null" {
			sp.Payload = t
		}
		out = append(out, sp)
	}
	return out, nil
}

// Retrieve returns the points with the given ids that exist, in request
// order, each once.
func (s *Service) Retrieve(ctx context.Context, collection string, ids []*shoalv1.PointID, opt ReadOptions) ([]Record, error) {
	return s.RetrieveFrom(ctx, collection, nil, ids, opt)
}

// RetrieveFrom is Retrieve restricted to the shard keys of sel (custom
// sharding; nil: every shard).
func (s *Service) RetrieveFrom(ctx context.Context, collection string, sel *routing.KeySelector, ids []*shoalv1.PointID, opt ReadOptions) ([]Record, error) {
	c, err := s.target(collection, sel)
	if err != nil {
		return nil, err
	}
	ro, err := readOptions(c, opt)
	if err != nil {
		return nil, err
	}
	ids = dedupeIDs(ids)
	if len(ids) == 0 {
		return []Record{}, nil
	}
	points, err := s.opt.Router.Get(ctx, c, ids, ro)
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(points))
	for i, p := range points {
		out[i] = toRecord(p, opt)
	}
	return out, nil
}

// GetPoint returns one point with its payload and every vector, or
// Qdrant's not-found error.
func (s *Service) GetPoint(ctx context.Context, collection string, id *shoalv1.PointID) (Record, error) {
	recs, err := s.Retrieve(ctx, collection, []*shoalv1.PointID{id}, ReadOptions{Payload: AllPayload, Vector: VectorSelector{All: true}})
	if err != nil {
		return Record{}, err
	}
	if len(recs) == 0 {
		return Record{}, apierr.Missing("Point with id %s does not exists!", pointid.String(id))
	}
	return recs[0], nil
}

func dedupeIDs(ids []*shoalv1.PointID) []*shoalv1.PointID {
	seen := make(map[string]bool, len(ids))
	out := make([]*shoalv1.PointID, 0, len(ids))
	for _, id := range ids {
		k := string(pointid.Key(id))
		if !seen[k] {
			seen[k] = true
			out = append(out, id)
		}
	}
	return out
}
