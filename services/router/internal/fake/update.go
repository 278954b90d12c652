package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// SetNoUpdate makes the node answer Update and Info with Unimplemented,
// as a node of an older version would.
func (s *Storage) SetNoUpdate(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noUpdate = v
}

// Update implements StorageServiceClient: every Operation kind, with
// payloads merged at the top level (set_payload's key is not supported).
// See write for the primary check and the replication.
func (s *Storage) Update(ctx context.Context, req *connect.Request[shoalv1.UpdateRequest]) (*connect.Response[shoalv1.UpdateResponse], error) {
	return s.write(ctx, "Update", req.Msg.Shard, req.Msg.Term, req.Msg.Wait, func(f *Storage, r map[string]*shoalv1.Point, version uint64) error {
		return f.applyOp(r, req.Msg.Shard, req.Msg.Op, version)
	})
}

// applyOp applies one Operation to replica r (s.mu held).
func (s *Storage) applyOp(r map[string]*shoalv1.Point, ref *shoalv1.ShardRef, o *shoalv1.Operation, version uint64) error {
	var err error
	selected := func(sel *shoalv1.PointSelector) ([]*shoalv1.Point, error) {
		var out []*shoalv1.Point
		if len(sel.GetFilter()) > 0 {
			match, err := compileFilter(sel.GetFilter())
			if err != nil {
				return nil, err
			}
			for _, p := range r {
				if match(p) {
					out = append(out, p)
				}
			}
			return out, nil
		}
		for _, id := range sel.GetIds() {
			if p, ok := r[string(pointid.Key(id))]; ok {
				out = append(out, p)
			}
		}
		return out, nil
	}
	var pts []*shoalv1.Point
	switch op := o.GetKind().(type) {
	case *shoalv1.Operation_Upsert:
		match, err := compileFilter(op.Upsert.UpdateFilter)
		if err != nil {
			return err
		}
		mode := op.Upsert.UpdateMode
		// Every point is judged against the replica as it was before.
		write := map[string]*shoalv1.Point{}
		for _, p := range op.Upsert.Points {
			key := string(pointid.Key(p.Id))
			old, exists := r[key]
			switch {
			case !exists && mode == shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY:
				continue
			case exists && (mode == shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY || !match(old)):
				continue
			}
			c := proto.Clone(p).(*shoalv1.Point)
			c.Version = version
			write[key] = c
		}
		for key, p := range write {
			r[key] = p
		}
	case *shoalv1.Operation_Delete:
		if pts, err = selected(&shoalv1.PointSelector{Ids: op.Delete.Ids, Filter: op.Delete.Filter}); err == nil {
			for _, p := range pts {
				delete(r, string(pointid.Key(p.Id)))
			}
		}
	case *shoalv1.Operation_SetPayload, *shoalv1.Operation_OverwritePayload:
		sp, overwrite := o.GetSetPayload(), false
		if sp == nil {
			sp, overwrite = o.GetOverwritePayload(), true
		}
		if pts, err = selected(sp.Selector); err == nil {
			for _, p := range pts {
				err = editPayload(p, func(m map[string]any) map[string]any {
					var add map[string]any
					_ = json.Unmarshal(sp.Payload, &add)
					if overwrite {
						return add
					}
					for k, v := range add {
						m[k] = v
					}
					return m
				})
			}
		}
	case *shoalv1.Operation_DeletePayload:
		if pts, err = selected(op.DeletePayload.Selector); err == nil {
			for _, p := range pts {
				err = editPayload(p, func(m map[string]any) map[string]any {
					for _, k := range op.DeletePayload.Keys {
						delete(m, k)
					}
					return m
				})
			}
		}
	case *shoalv1.Operation_ClearPayload:
		if pts, err = selected(op.ClearPayload); err == nil {
			for _, p := range pts {
				p.Payload = nil
			}
		}
	case *shoalv1.Operation_UpdateVectors:
		match, err := compileFilter(op.UpdateVectors.UpdateFilter)
		if err != nil {
			return err
		}
		for _, pv := range op.UpdateVectors.Points {
			if _, ok := r[string(pointid.Key(pv.Id))]; !ok {
				e := connect.NewError(connect.CodeNotFound, fmt.Errorf("No point with id %s found", pointid.String(pv.Id)))
				e.Meta().Set("Shoal-Error-Kind", "point-not-found")
				return e
			}
		}
		for _, pv := range op.UpdateVectors.Points {
			p := r[string(pointid.Key(pv.Id))]
			if !match(p) {
				continue
			}
			for name, v := range pv.Vectors {
				p.Vectors[name] = v
			}
		}
	case *shoalv1.Operation_DeleteVectors:
		if pts, err = selected(op.DeleteVectors.Selector); err == nil {
			for _, p := range pts {
				for _, name := range op.DeleteVectors.Names {
					delete(p.Vectors, name)
				}
			}
		}
	case *shoalv1.Operation_CreateFieldIndex:
		s.indexesOf(ref)[op.CreateFieldIndex.Field] = string(op.CreateFieldIndex.SchemaJson)
	case *shoalv1.Operation_DeleteFieldIndex:
		delete(s.indexesOf(ref), op.DeleteFieldIndex.Field)
	case *shoalv1.Operation_CreateVectorName:
	case *shoalv1.Operation_DeleteVectorName:
		for _, p := range r {
			delete(p.Vectors, op.DeleteVectorName.Name)
		}
	default:
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("empty operation"))
	}
	return err
}

func (s *Storage) indexesOf(ref *shoalv1.ShardRef) map[string]string {
	key := fmt.Sprintf("%s/%d", ref.GetUid(), ref.GetShardId())
	ix, ok := s.indexes[key]
	if !ok {
		ix = map[string]string{}
		s.indexes[key] = ix
	}
	return ix
}

// editPayload rewrites a point's payload object through fn.
func editPayload(p *shoalv1.Point, fn func(map[string]any) map[string]any) error {
	m := map[string]any{}
	if len(p.Payload) > 0 {
		if err := json.Unmarshal(p.Payload, &m); err != nil {
			return connect.NewError(connect.CodeInternal, err)
		}
	}
	b, err := json.Marshal(fn(m))
	if err != nil {
		return connect.NewError(connect.CodeInternal, err)
	}
	p.Payload = b
	return nil
}

// Info implements StorageServiceClient: the point count, one segment, and
// the payload schema of the field indexes (points = points with the field).
func (s *Storage) Info(_ context.Context, req *connect.Request[shoalv1.InfoRequest]) (*connect.Response[shoalv1.InfoResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("Info", req.Msg.Shard)
	if err != nil {
		return nil, err
	}
	if s.noUpdate {
		return nil, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("shoal.v1.StorageService.Info is not implemented"))
	}
	schema := map[string]any{}
	for f, js := range s.indexesOf(req.Msg.Shard) {
		var dt any = js
		_ = json.Unmarshal([]byte(js), &dt)
		if m, ok := dt.(map[string]any); ok {
			dt = m["type"]
		}
		n := 0
		for _, p := range r {
			if _, ok := field(p, f); ok {
				n++
			}
		}
		schema[f] = map[string]any{"data_type": dt, "points": n}
	}
	b, _ := json.Marshal(schema)
	return connect.NewResponse(&shoalv1.InfoResponse{Points: uint64(len(r)), Segments: 1, PayloadSchemaJson: b}), nil
}

// scrollOrdered serves an order_by scroll: points with a numeric value at
// the key, ordered by it (then by id), from start_from, at most limit.
func scrollOrdered(r map[string]*shoalv1.Point, req *shoalv1.ScrollRequest, match func(*shoalv1.Point) bool) *connect.Response[shoalv1.ScrollResponse] {
	ob := req.OrderBy
	type entry struct {
		p *shoalv1.Point
		v float64
	}
	var all []entry
	for _, p := range r {
		v, ok := field(p, ob.Key)
		f, isNum := v.(float64)
		if !ok || !isNum || !match(p) {
			continue
		}
		if ob.StartFrom != nil && ((!ob.Descending && f < *ob.StartFrom) || (ob.Descending && f > *ob.StartFrom)) {
			continue
		}
		all = append(all, entry{p, f})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return (all[i].v < all[j].v) != ob.Descending
		}
		return pointid.Compare(all[i].p.Id, all[j].p.Id) < 0
	})
	resp := &shoalv1.ScrollResponse{}
	for i, e := range all {
		if i == int(req.Limit) {
			break
		}
		resp.Points = append(resp.Points, project(e.p, req.WithPayload, req.WithVector))
		resp.OrderValues = append(resp.OrderValues, e.v)
	}
	return connect.NewResponse(resp)
}
