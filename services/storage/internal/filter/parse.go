package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/shoaldb/shoal/pkg/pointid"
)

// maxDepth bounds how deeply filters may nest.
const maxDepth = 64

// Parse parses Qdrant filter JSON (the REST `Filter` object). Empty input
// and `null` give (nil, nil): no filter. Anything that is not a valid
// filter gives an *Error.
func Parse(raw []byte) (*Filter, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var v any
	if err := decodeJSON(raw, &v); err != nil {
		return nil, &Error{At: "filter", Msg: err.Error()}
	}
	p := parser{}
	return p.filter(v, "filter", 0)
}

type parser struct {
	inNested bool // inside a nested condition: has_id and has_vector refused
}

func errf(at, format string, args ...any) *Error {
	return &Error{At: at, Msg: fmt.Sprintf(format, args...)}
}

// object returns v as an object whose keys are all in allowed.
func object(v any, at string, allowed ...string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errf(at, "expected an object, got %s", kindOf(v))
	}
	for _, k := range sortedKeys(m) {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			return nil, errf(at, "unknown field `%s`, expected one of %s", k, strings.Join(allowed, ", "))
		}
	}
	return m, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

var filterKeys = []string{"must", "should", "must_not", "min_should"}

func (p *parser) filter(v any, at string, depth int) (*Filter, error) {
	if depth > maxDepth {
		return nil, errf(at, "filter is nested more than %d levels deep", maxDepth)
	}
	m, err := object(v, at, filterKeys...)
	if err != nil {
		return nil, err
	}
	f := &Filter{}
	if f.Must, err = p.clause(m["must"], at+".must", depth); err != nil {
		return nil, err
	}
	if f.Should, err = p.clause(m["should"], at+".should", depth); err != nil {
		return nil, err
	}
	if f.MustNot, err = p.clause(m["must_not"], at+".must_not", depth); err != nil {
		return nil, err
	}
	if ms := m["min_should"]; ms != nil {
		at := at + ".min_should"
		mm, err := object(ms, at, "conditions", "min_count")
		if err != nil {
			return nil, err
		}
		conds, ok := mm["conditions"].([]any)
		if !ok {
			return nil, errf(at+".conditions", "expected an array of conditions, got %s", kindOf(mm["conditions"]))
		}
		n, err := uintField(mm["min_count"], at+".min_count")
		if err != nil {
			return nil, err
		}
		if n < 1 {
			return nil, errf(at+".min_count", "value 0 invalid, must be 1 or more")
		}
		f.MinShould = &MinShould{MinCount: int(min(n, uint64(len(conds))+1))}
		for i, c := range conds {
			cond, err := p.condition(c, fmt.Sprintf("%s.conditions[%d]", at, i), depth)
			if err != nil {
				return nil, err
			}
			f.MinShould.Conditions = append(f.MinShould.Conditions, cond)
		}
	}
	return f, nil
}

// clause parses must / should / must_not: one condition, an array of
// them, or null.
func (p *parser) clause(v any, at string, depth int) ([]*Condition, error) {
	switch c := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]*Condition, 0, len(c))
		for i, e := range c {
			cond, err := p.condition(e, fmt.Sprintf("%s[%d]", at, i), depth)
			if err != nil {
				return nil, err
			}
			out = append(out, cond)
		}
		return out, nil
	default:
		cond, err := p.condition(v, at, depth)
		if err != nil {
			return nil, err
		}
		return []*Condition{cond}, nil
	}
}

func (p *parser) condition(v any, at string, depth int) (*Condition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errf(at, "expected a condition object, got %s", kindOf(v))
	}
	switch {
	case has(m, "key"):
		fc, err := p.fieldCondition(m, at)
		if err != nil {
			return nil, err
		}
		return &Condition{Field: fc}, nil
	case has(m, "is_empty"):
		path, err := payloadField(m, "is_empty", at)
		if err != nil {
			return nil, err
		}
		return &Condition{IsEmpty: &path}, nil
	case has(m, "is_null"):
		path, err := payloadField(m, "is_null", at)
		if err != nil {
			return nil, err
		}
		return &Condition{IsNull: &path}, nil
	case has(m, "has_id"):
		return p.hasID(m, at)
	case has(m, "has_vector"):
		if _, err := object(m, at, "has_vector"); err != nil {
			return nil, err
		}
		if p.inNested {
			return nil, errf(at, "has_vector is not supported inside a nested filter")
		}
		name, ok := m["has_vector"].(string)
		if !ok {
			return nil, errf(at+".has_vector", "expected a vector name, got %s", kindOf(m["has_vector"]))
		}
		return &Condition{HasVector: &name}, nil
	case has(m, "nested"):
		return p.nested(m, at, depth)
	case has(m, "slice"):
		return nil, errf(at, "the slice condition is not supported")
	}
	for _, k := range sortedKeys(m) {
		if !contains(filterKeys, k) {
			return nil, errf(at, "unknown condition field `%s`: expected a field condition (key), is_empty, is_null, has_id, has_vector, nested, or a filter (must, should, must_not, min_should)", k)
		}
	}
	f, err := p.filter(m, at, depth+1)
	if err != nil {
		return nil, err
	}
	return &Condition{Filter: f}, nil
}

func has(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// payloadField parses {"is_empty": {"key": "a.b"}}.
func payloadField(m map[string]any, name, at string) (Path, error) {
	if _, err := object(m, at, name); err != nil {
		return Path{}, err
	}
	at += "." + name
	inner, err := object(m[name], at, "key")
	if err != nil {
		return Path{}, err
	}
	return pathField(inner["key"], at+".key")
}

func pathField(v any, at string) (Path, error) {
	s, ok := v.(string)
	if !ok {
		return Path{}, errf(at, "expected a payload key string, got %s", kindOf(v))
	}
	p, err := ParsePath(s)
	if err != nil {
		return Path{}, errf(at, "%v", err)
	}
	return p, nil
}

func (p *parser) hasID(m map[string]any, at string) (*Condition, error) {
	if _, err := object(m, at, "has_id"); err != nil {
		return nil, err
	}
	if p.inNested {
		return nil, errf(at, "has_id is not supported inside a nested filter")
	}
	at += ".has_id"
	list, ok := m["has_id"].([]any)
	if !ok {
		return nil, errf(at, "expected an array of point ids, got %s", kindOf(m["has_id"]))
	}
	keys := make(map[string]struct{}, len(list))
	for i, e := range list {
		switch id := e.(type) {
		case json.Number:
			n, err := strconv.ParseUint(string(id), 10, 64)
			if err != nil {
				return nil, errf(fmt.Sprintf("%s[%d]", at, i), "point id %s is not an unsigned integer", id)
			}
			keys[IDKey(pointid.Num(n))] = struct{}{}
		case string:
			u, err := uuid.Parse(id)
			if err != nil {
				return nil, errf(fmt.Sprintf("%s[%d]", at, i), "unable to parse UUID: %s", id)
			}
			keys[IDKey(pointid.UUID(u))] = struct{}{}
		default:
			return nil, errf(fmt.Sprintf("%s[%d]", at, i), "expected a point id (unsigned integer or UUID), got %s", kindOf(e))
		}
	}
	return &Condition{HasID: keys}, nil
}

func (p *parser) nested(m map[string]any, at string, depth int) (*Condition, error) {
	if _, err := object(m, at, "nested"); err != nil {
		return nil, err
	}
	at += ".nested"
	inner, err := object(m["nested"], at, "key", "filter")
	if err != nil {
		return nil, err
	}
	key, err := pathField(inner["key"], at+".key")
	if err != nil {
		return nil, err
	}
	if inner["filter"] == nil {
		return nil, errf(at+".filter", "missing field `filter`")
	}
	saved := p.inNested
	p.inNested = true
	f, err := p.filter(inner["filter"], at+".filter", depth+1)
	p.inNested = saved
	if err != nil {
		return nil, err
	}
	return &Condition{Nested: &Nested{Key: key.ArrayKey(), Filter: f}}, nil
}

// uintField parses a non-negative integer.
func uintField(v any, at string) (uint64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, errf(at, "expected a non-negative integer, got %s", kindOf(v))
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		return 0, errf(at, "expected a non-negative integer, got %s", n)
	}
	return u, nil
}

// sortedKeys lists m's keys in order (deterministic error messages).
func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
