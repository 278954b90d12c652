package grpcapi

import (
	"encoding/json"
	"math"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/pkg/pointid"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Filters travel to the storage tier as Qdrant's REST filter JSON, so a
// gRPC Filter is rendered in that form here and evaluated by the one
// filter implementation the storage nodes have.

// filterJSON renders a filter; nil stays nil.
func filterJSON(f *qdrant.Filter) (json.RawMessage, error) {
	if f == nil {
		return nil, nil
	}
	obj, err := filterObject(f)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, apierr.Format("filter: %v", err)
	}
	return b, nil
}

func filterObject(f *qdrant.Filter) (map[string]any, error) {
	out := map[string]any{}
	for name, conds := range map[string][]*qdrant.Condition{"must": f.GetMust(), "should": f.GetShould(), "must_not": f.GetMustNot()} {
		if len(conds) == 0 {
			continue
		}
		list, err := conditions(conds)
		if err != nil {
			return nil, err
		}
		out[name] = list
	}
	if ms := f.GetMinShould(); ms != nil {
		list, err := conditions(ms.GetConditions())
		if err != nil {
			return nil, err
		}
		out["min_should"] = map[string]any{"conditions": list, "min_count": ms.GetMinCount()}
	}
	return out, nil
}

func conditions(cs []*qdrant.Condition) ([]any, error) {
	out := make([]any, len(cs))
	for i, c := range cs {
		v, err := condition(c)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func condition(c *qdrant.Condition) (any, error) {
	switch k := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return fieldCondition(k.Field)
	case *qdrant.Condition_IsEmpty:
		return map[string]any{"is_empty": map[string]any{"key": k.IsEmpty.GetKey()}}, nil
	case *qdrant.Condition_IsNull:
		return map[string]any{"is_null": map[string]any{"key": k.IsNull.GetKey()}}, nil
	case *qdrant.Condition_HasId:
		ids := make([]any, len(k.HasId.GetHasId()))
		for i, id := range k.HasId.GetHasId() {
			pid, err := pointID(id)
			if err != nil {
				return nil, err
			}
			ids[i] = pointid.JSON(pid)
		}
		return map[string]any{"has_id": ids}, nil
	case *qdrant.Condition_Filter:
		return filterObject(k.Filter)
	case *qdrant.Condition_Nested:
		inner, err := filterObject(k.Nested.GetFilter())
		if err != nil {
			return nil, err
		}
		return map[string]any{"nested": map[string]any{"key": k.Nested.GetKey(), "filter": inner}}, nil
	case *qdrant.Condition_HasVector:
		return map[string]any{"has_vector": k.HasVector.GetHasVector()}, nil
	}
	return nil, apierr.Format("filter: empty condition")
}

func fieldCondition(f *qdrant.FieldCondition) (any, error) {
	out := map[string]any{"key": f.GetKey()}
	n := 0
	if m := f.GetMatch(); m != nil {
		v, err := match(m)
		if err != nil {
			return nil, err
		}
		out["match"], n = v, n+1
	}
	if r := f.GetRange(); r != nil {
		rg := map[string]any{}
		for name, v := range map[string]*float64{"lt": r.Lt, "gt": r.Gt, "gte": r.Gte, "lte": r.Lte} {
			if v != nil {
				if math.IsNaN(*v) || math.IsInf(*v, 0) {
					return nil, apierr.Format("filter: range.%s must be finite", name)
				}
				rg[name] = *v
			}
		}
		out["range"], n = rg, n+1
	}
	if r := f.GetDatetimeRange(); r != nil {
		rg := map[string]any{}
		for name, v := range map[string]*timestamppb.Timestamp{"lt": r.Lt, "gt": r.Gt, "gte": r.Gte, "lte": r.Lte} {
			if v != nil {
				rg[name] = v.AsTime().UTC().Format(time.RFC3339Nano)
			}
		}
		out["range"], n = rg, n+1
	}
	if g := f.GetGeoBoundingBox(); g != nil {
		out["geo_bounding_box"], n = map[string]any{"top_left": geoPoint(g.GetTopLeft()), "bottom_right": geoPoint(g.GetBottomRight())}, n+1
	}
	if g := f.GetGeoRadius(); g != nil {
		out["geo_radius"], n = map[string]any{"center": geoPoint(g.GetCenter()), "radius": float64(g.GetRadius())}, n+1
	}
	if g := f.GetGeoPolygon(); g != nil {
		interiors := make([]any, len(g.GetInteriors()))
		for i, ls := range g.GetInteriors() {
			interiors[i] = lineString(ls)
		}
		poly := map[string]any{"exterior": lineString(g.GetExterior())}
		if len(interiors) > 0 {
			poly["interiors"] = interiors
		}
		out["geo_polygon"], n = poly, n+1
	}
	if vc := f.GetValuesCount(); vc != nil {
		m := map[string]any{}
		for name, v := range map[string]*uint64{"lt": vc.Lt, "gt": vc.Gt, "gte": vc.Gte, "lte": vc.Lte} {
			if v != nil {
				m[name] = *v
			}
		}
		out["values_count"], n = m, n+1
	}
	if f.IsEmpty != nil {
		out["is_empty"], n = *f.IsEmpty, n+1
	}
	if f.IsNull != nil {
		out["is_null"], n = *f.IsNull, n+1
	}
	if n == 0 {
		return nil, apierr.Format("filter: field condition on `%s` without a condition", f.GetKey())
	}
	return out, nil
}

func match(m *qdrant.Match) (map[string]any, error) {
	switch v := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return map[string]any{"value": v.Keyword}, nil
	case *qdrant.Match_Integer:
		return map[string]any{"value": v.Integer}, nil
	case *qdrant.Match_Boolean:
		return map[string]any{"value": v.Boolean}, nil
	case *qdrant.Match_Text:
		return map[string]any{"text": v.Text}, nil
	case *qdrant.Match_Phrase:
		return map[string]any{"phrase": v.Phrase}, nil
	case *qdrant.Match_TextAny:
		return map[string]any{"text_any": v.TextAny}, nil
	case *qdrant.Match_Keywords:
		return map[string]any{"any": nonNil(v.Keywords.GetStrings())}, nil
	case *qdrant.Match_Integers:
		return map[string]any{"any": nonNil(v.Integers.GetIntegers())}, nil
	case *qdrant.Match_ExceptKeywords:
		return map[string]any{"except": nonNil(v.ExceptKeywords.GetStrings())}, nil
	case *qdrant.Match_ExceptIntegers:
		return map[string]any{"except": nonNil(v.ExceptIntegers.GetIntegers())}, nil
	}
	return nil, apierr.Format("filter: empty match")
}

// nonNil makes a nil list encode as [] rather than null.
func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

func geoPoint(p *qdrant.GeoPoint) map[string]any {
	return map[string]any{"lon": p.GetLon(), "lat": p.GetLat()}
}

func lineString(ls *qdrant.GeoLineString) map[string]any {
	pts := make([]any, len(ls.GetPoints()))
	for i, p := range ls.GetPoints() {
		pts[i] = geoPoint(p)
	}
	return map[string]any{"points": pts}
}
