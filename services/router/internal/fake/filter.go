package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// compileFilter turns a small subset of Qdrant's filter JSON into a
// predicate: must / should / must_not, nested filters, and field
// conditions with match {value} or {any}, range {gt, gte, lt, lte}, and
// has_id. Keys are top-level payload fields. Anything else is
// InvalidArgument, as a real storage node answers a bad filter. An empty
// filter matches every point.
func compileFilter(raw []byte) (func(*shoalv1.Point) bool, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return func(*shoalv1.Point) bool { return true }, nil
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return nil, badFilter("filter must be an object")
	}
	var preds []func(*shoalv1.Point) bool
	for clause, list := range f {
		var conds []json.RawMessage
		if err := json.Unmarshal(list, &conds); err != nil {
			var one json.RawMessage
			if json.Unmarshal(list, &one) != nil {
				return nil, badFilter("%s must be a list of conditions", clause)
			}
			conds = []json.RawMessage{one}
		}
		var cs []func(*shoalv1.Point) bool
		for _, c := range conds {
			p, err := compileCondition(c)
			if err != nil {
				return nil, err
			}
			cs = append(cs, p)
		}
		switch clause {
		case "must":
			preds = append(preds, func(p *shoalv1.Point) bool { return all(cs, p) })
		case "should":
			preds = append(preds, func(p *shoalv1.Point) bool { return len(cs) == 0 || any_(cs, p) })
		case "must_not":
			preds = append(preds, func(p *shoalv1.Point) bool { return !any_(cs, p) })
		default:
			return nil, badFilter("unknown filter clause %q", clause)
		}
	}
	return func(p *shoalv1.Point) bool { return all(preds, p) }, nil
}

func all(ps []func(*shoalv1.Point) bool, p *shoalv1.Point) bool {
	for _, f := range ps {
		if !f(p) {
			return false
		}
	}
	return true
}

func any_(ps []func(*shoalv1.Point) bool, p *shoalv1.Point) bool {
	for _, f := range ps {
		if f(p) {
			return true
		}
	}
	return false
}

func badFilter(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: "+format, args...))
}

func compileCondition(raw json.RawMessage) (func(*shoalv1.Point) bool, error) {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(raw, &c); err != nil || c == nil {
		return nil, badFilter("condition must be an object")
	}
	if ids, ok := c["has_id"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(ids, &list); err != nil {
			return nil, badFilter("has_id must be a list")
		}
		want := map[string]bool{}
		for _, e := range list {
			id, err := pointid.Parse(e)
			if err != nil {
				return nil, badFilter("has_id: %v", err)
			}
			want[string(pointid.Key(id))] = true
		}
		return func(p *shoalv1.Point) bool { return want[string(pointid.Key(p.Id))] }, nil
	}
	if hv, ok := c["has_vector"]; ok {
		var name string
		if err := json.Unmarshal(hv, &name); err != nil {
			return nil, badFilter("has_vector must be a vector name")
		}
		return func(p *shoalv1.Point) bool { _, ok := p.Vectors[name]; return ok }, nil
	}
	if _, ok := c["key"]; !ok {
		return compileFilter(raw) // a nested filter
	}
	var key string
	if err := json.Unmarshal(c["key"], &key); err != nil {
		return nil, badFilter("key must be a string")
	}
	if m, ok := c["match"]; ok {
		var match struct {
			Value any   `json:"value"`
			Any   []any `json:"any"`
		}
		if err := json.Unmarshal(m, &match); err != nil {
			return nil, badFilter("match: %v", err)
		}
		wants := match.Any
		if match.Value != nil {
			wants = []any{match.Value}
		}
		return func(p *shoalv1.Point) bool {
			v, ok := field(p, key)
			if !ok {
				return false
			}
			for _, x := range values(v) {
				for _, w := range wants {
					if reflect.DeepEqual(x, w) {
						return true
					}
				}
			}
			return false
		}, nil
	}
	if r, ok := c["range"]; ok {
		var rg struct{ Gt, Gte, Lt, Lte *float64 }
		if err := json.Unmarshal(r, &rg); err != nil {
			return nil, badFilter("range: %v", err)
		}
		return func(p *shoalv1.Point) bool {
			v, ok := field(p, key)
			if !ok {
				return false
			}
			for _, x := range values(v) {
				f, isNum := x.(float64)
				if isNum && (rg.Gt == nil || f > *rg.Gt) && (rg.Gte == nil || f >= *rg.Gte) && (rg.Lt == nil || f < *rg.Lt) && (rg.Lte == nil || f <= *rg.Lte) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, badFilter("unsupported condition on %q", key)
}

// field returns a point's payload value at a dotted key.
func field(p *shoalv1.Point, key string) (any, bool) {
	var v any
	if len(p.Payload) == 0 || json.Unmarshal(p.Payload, &v) != nil {
		return nil, false
	}
	for _, part := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

// values flattens an array value into its elements.
func values(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}
