package filter

import "strings"

// Point is what a filter is evaluated against.
type Point interface {
	// Key is the point's storage key (pointid.Key), for has_id.
	Key() string
	// Payload returns the point's decoded payload (nil for none). It is
	// called at most once per evaluation, and only when a condition
	// needs the payload.
	Payload() map[string]any
	// HasVector reports whether the point has a vector of that name.
	HasVector(name string) bool
}

// Indexes lets evaluation use payload indexes. A nil Indexes evaluates
// everything from the payload.
type Indexes interface {
	// Checker returns a function that answers fc for a point key from an
	// index, exactly as evaluating fc over the payload would, or nil when
	// no index can.
	Checker(fc *FieldCondition) func(key string) bool
	// Tokenizer returns the tokenizer of the text index on the key path
	// (Path.String()), or nil when it has none: text conditions then
	// compare substrings instead of tokens.
	Tokenizer(path string) *Tokenizer
}

// Matcher is a filter compiled for evaluation. It is safe for concurrent
// use if its Indexes are.
type Matcher struct {
	root node
}

type node func(e *env) bool

// env is one evaluation: the point and its payload, decoded once.
type env struct {
	p       Point
	payload map[string]any
	loaded  bool
}

func (e *env) obj() map[string]any {
	if !e.loaded {
		e.payload = e.p.Payload()
		e.loaded = true
	}
	return e.payload
}

// Compile prepares f for evaluation with ix (nil: no indexes). A nil f
// matches every point.
func Compile(f *Filter, ix Indexes) *Matcher {
	if f == nil {
		return &Matcher{root: func(*env) bool { return true }}
	}
	return &Matcher{root: compileFilter(f, ix, nil)}
}

// Match reports whether p matches.
func (m *Matcher) Match(p Point) bool {
	return m.root(&env{p: p})
}

// Matches evaluates f against p without indexes.
func (f *Filter) Matches(p Point) bool {
	return Compile(f, nil).Match(p)
}

// compileFilter compiles f; nested is the array path f's keys are relative
// to (nil at the top level).
func compileFilter(f *Filter, ix Indexes, nested *Path) node {
	compile := func(cs []*Condition) []node {
		out := make([]node, len(cs))
		for i, c := range cs {
			out[i] = compileCondition(c, ix, nested)
		}
		return out
	}
	must, should, mustNot := compile(f.Must), compile(f.Should), compile(f.MustNot)
	var minShould []node
	minCount := 0
	if f.MinShould != nil {
		minShould, minCount = compile(f.MinShould.Conditions), f.MinShould.MinCount
	}
	return func(e *env) bool {
		for _, c := range must {
			if !c(e) {
				return false
			}
		}
		for _, c := range mustNot {
			if c(e) {
				return false
			}
		}
		if len(should) > 0 {
			matched := false
			for _, c := range should {
				if c(e) {
					matched = true
					break
				}
			}
			if !matched {
				return false
			}
		}
		if minShould != nil {
			n := 0
			for _, c := range minShould {
				if c(e) {
					if n++; n >= minCount {
						break
					}
				}
			}
			if n < minCount {
				return false
			}
		}
		return true
	}
}

func compileCondition(c *Condition, ix Indexes, nested *Path) node {
	switch {
	case c.Field != nil:
		return compileField(c.Field, ix, nested)
	case c.IsEmpty != nil:
		path := *c.IsEmpty
		return func(e *env) bool { return isEmpty(path.Get(e.obj())) }
	case c.IsNull != nil:
		path := *c.IsNull
		return func(e *env) bool { return isNull(path.Get(e.obj())) }
	case c.HasID != nil:
		ids := c.HasID
		return func(e *env) bool {
			if e.p == nil {
				return false
			}
			_, ok := ids[e.p.Key()]
			return ok
		}
	case c.HasVector != nil:
		name := *c.HasVector
		return func(e *env) bool { return e.p != nil && e.p.HasVector(name) }
	case c.Nested != nil:
		key := c.Nested.Key
		if nested != nil {
			key = nested.Join(key)
		}
		inner := compileFilter(c.Nested.Filter, ix, &key)
		rel := c.Nested.Key
		return func(e *env) bool {
			for _, v := range rel.Get(e.obj()) {
				obj, ok := v.(map[string]any)
				if !ok {
					continue
				}
				if inner(&env{payload: obj, loaded: true}) {
					return true
				}
			}
			return false
		}
	case c.Filter != nil:
		return compileFilter(c.Filter, ix, nested)
	}
	return func(*env) bool { return false }
}

func compileField(fc *FieldCondition, ix Indexes, nested *Path) node {
	if ix != nil && nested == nil {
		if check := ix.Checker(fc); check != nil {
			return func(e *env) bool { return check(e.p.Key()) }
		}
	}
	var tok *Tokenizer
	if ix != nil && fc.Match != nil && isTextKind(fc.Match.Kind) {
		full := fc.Key
		if nested != nil {
			full = nested.Join(fc.Key)
		}
		tok = ix.Tokenizer(full.String())
	}
	return func(e *env) bool { return fc.Eval(fc.Key.Get(e.obj()), tok) }
}

func isTextKind(k MatchKind) bool {
	return k == MatchText || k == MatchTextAny || k == MatchPhrase
}

// Eval evaluates fc over the values its key selected; tok is the text
// index tokenizer of the key, or nil. Several tests in one condition are
// OR-ed.
func (fc *FieldCondition) Eval(values []any, tok *Tokenizer) bool {
	if fc.Match != nil && evalMatch(fc.Match, values, tok) {
		return true
	}
	if r := fc.Range; r != nil && Leaves(values, func(v any) bool {
		f, ok := AsFloat(v)
		return ok && r.Contains(f)
	}) {
		return true
	}
	if r := fc.DatetimeRange; r != nil && Leaves(values, func(v any) bool {
		s, ok := v.(string)
		if !ok {
			return false
		}
		us, ok := ParseDatetime(s)
		return ok && r.Contains(us)
	}) {
		return true
	}
	if g := fc.GeoRadius; g != nil && Leaves(values, func(v any) bool {
		p, ok := AsGeo(v)
		return ok && g.Contains(p)
	}) {
		return true
	}
	if g := fc.GeoBoundingBox; g != nil && Leaves(values, func(v any) bool {
		p, ok := AsGeo(v)
		return ok && g.Contains(p)
	}) {
		return true
	}
	if g := fc.GeoPolygon; g != nil && Leaves(values, func(v any) bool {
		p, ok := AsGeo(v)
		return ok && g.Contains(p)
	}) {
		return true
	}
	if c := fc.ValuesCount; c != nil {
		if len(values) == 0 && c.Contains(0) {
			return true
		}
		for _, v := range values {
			if c.Contains(CountValues(v)) {
				return true
			}
		}
	}
	if fc.IsEmpty != nil && isEmpty(values) == *fc.IsEmpty {
		return true
	}
	if fc.IsNull != nil && isNull(values) == *fc.IsNull {
		return true
	}
	return false
}

// CountValues is how many values v counts as for values_count: an array
// its length, null none, anything else one.
func CountValues(v any) uint64 {
	switch x := v.(type) {
	case nil:
		return 0
	case []any:
		return uint64(len(x))
	}
	return 1
}

// isEmpty: no values, or only nulls and empty arrays.
func isEmpty(values []any) bool {
	for _, v := range values {
		switch x := v.(type) {
		case nil:
		case []any:
			if len(x) > 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// isNull: one of the values is null (an array holding null is not).
func isNull(values []any) bool {
	for _, v := range values {
		if v == nil {
			return true
		}
	}
	return false
}

func evalMatch(m *Match, values []any, tok *Tokenizer) bool {
	switch m.Kind {
	case MatchText:
		return matchText(values, m.Text, TextAll, tok)
	case MatchTextAny:
		return matchText(values, m.Text, TextAny, tok)
	case MatchPhrase:
		return matchText(values, m.Text, TextPhrase, tok)
	}
	return Leaves(values, func(v any) bool { return m.MatchLeaf(v) })
}

// MatchLeaf evaluates a value, any, except or prefix match on one value.
func (m *Match) MatchLeaf(v any) bool {
	switch m.Kind {
	case MatchValue:
		switch want := m.Value.(type) {
		case string:
			s, ok := v.(string)
			return ok && s == want
		case bool:
			b, ok := v.(bool)
			return ok && b == want
		case int64:
			i, ok := AsInt(v)
			return ok && i == want
		}
	case MatchAny:
		return m.inList(v)
	case MatchExcept:
		switch v.(type) {
		case nil:
			return false
		case string:
			return m.IntList || !m.inList(v)
		case bool, []any, map[string]any:
			return true
		}
		// A number: with an integer list, integers must be outside it;
		// anything else is "not in the list".
		if !m.IntList {
			return true
		}
		if _, ok := AsInt(v); !ok {
			return true
		}
		return !m.inList(v)
	case MatchPrefix:
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, m.Text)
	}
	return false
}

func (m *Match) inList(v any) bool {
	if m.IntList {
		i, ok := AsInt(v)
		if !ok {
			return false
		}
		for _, x := range m.Ints {
			if x == i {
				return true
			}
		}
		return false
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, x := range m.Strings {
		if x == s {
			return true
		}
	}
	return false
}
