package payloadindex

import (
	"math"
	"strings"

	"github.com/google/uuid"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
)

// Field is one payload index: a Schema over the values a Path selects.
// It keeps, per point, the values it indexed, so that it can answer a
// condition for one point (Checker) exactly as evaluating the condition
// over the payload would.
//
// Concurrency: reads may run concurrently with each other; writes (Set,
// Remove) must be exclusive of everything else. The replica serialises
// them with its lock, as it does for vector indexes.
type Field struct {
	path   filter.Path
	name   string
	schema Schema

	kw    *hashIndex[string] // keyword, uuid
	ints  *hashIndex[int64]  // integer with lookup
	bools *hashIndex[bool]
	nums  *sortedIndex[float64] // integer with range, float
	times *sortedIndex[int64]   // datetime (microseconds)
	geo   *geoIndex
	text  *textIndex
	all   []part // the non-nil ones above
}

func asString(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

func asUUID(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	_, err := uuid.Parse(s)
	return s, err == nil
}

func asBool(v any) (bool, bool) {
	b, ok := v.(bool)
	return b, ok
}

func asDatetime(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	return filter.ParseDatetime(s)
}

// NewField returns an empty index of schema over path.
func NewField(path filter.Path, schema Schema) *Field {
	f := &Field{path: path, name: path.String(), schema: schema}
	switch schema.Type {
	case Keyword:
		f.kw = newHash(asString)
	case UUID:
		f.kw = newHash(asUUID)
	case Integer:
		if schema.Lookup {
			f.ints = newHash(filter.AsInt)
		}
		if schema.Range {
			f.nums = newSorted(filter.AsFloat)
		}
	case Float:
		f.nums = newSorted(filter.AsFloat)
	case Bool:
		f.bools = newHash(asBool)
	case Datetime:
		f.times = newSorted(asDatetime)
	case Geo:
		f.geo = newGeo()
	case Text:
		f.text = newText(schema.Tokenizer)
	}
	if f.kw != nil {
		f.all = append(f.all, f.kw)
	}
	if f.ints != nil {
		f.all = append(f.all, f.ints)
	}
	if f.bools != nil {
		f.all = append(f.all, f.bools)
	}
	if f.nums != nil {
		f.all = append(f.all, f.nums)
	}
	if f.times != nil {
		f.all = append(f.all, f.times)
	}
	if f.geo != nil {
		f.all = append(f.all, f.geo)
	}
	if f.text != nil {
		f.all = append(f.all, f.text)
	}
	return f
}

// Name is the indexed key (Path.String()).
func (f *Field) Name() string { return f.name }

// Schema is the index's configuration.
func (f *Field) Schema() Schema { return f.schema }

// Set indexes (or re-indexes) the point key from its payload.
func (f *Field) Set(key string, payload map[string]any) {
	var leaves []any
	filter.Leaves(f.path.Get(payload), func(v any) bool {
		leaves = append(leaves, v)
		return false
	})
	for _, ix := range f.parts() {
		ix.set(key, leaves)
	}
}

// Remove forgets the point key.
func (f *Field) Remove(key string) {
	for _, ix := range f.parts() {
		ix.remove(key)
	}
}

// Points is the number of points with at least one indexed value. An
// integer index also keeps the floats of its key (so that its range
// answers match the payload's), but counts only the points holding an
// integer (when lookup is on).
func (f *Field) Points() int {
	if f.ints != nil {
		return f.ints.count()
	}
	n := 0
	for _, ix := range f.parts() {
		n = max(n, ix.count())
	}
	return n
}

type part interface {
	set(key string, leaves []any)
	remove(key string)
	count() int
}

func (f *Field) parts() []part { return f.all }

// answer is how a field index serves one condition: an upper bound of
// the matching points, a superset of them, and (when the index alone
// decides) an exact per-point check.
type answer struct {
	estimate func() int
	keys     func() []string
	check    func(key string) bool // nil: candidates need the payload
}

// tests counts the tests of a field condition.
func tests(fc *filter.FieldCondition) int {
	n := 0
	for _, set := range []bool{fc.Match != nil, fc.Range != nil, fc.DatetimeRange != nil, fc.GeoRadius != nil,
		fc.GeoBoundingBox != nil, fc.GeoPolygon != nil, fc.ValuesCount != nil, fc.IsEmpty != nil, fc.IsNull != nil} {
		if set {
			n++
		}
	}
	return n
}

// answer returns how f serves fc, or false when it cannot.
func (f *Field) answer(fc *filter.FieldCondition) (answer, bool) {
	if tests(fc) != 1 {
		return answer{}, false
	}
	switch {
	case fc.Match != nil:
		return f.answerMatch(fc.Match)
	case fc.Range != nil && f.nums != nil:
		b := floatBounds(fc.Range)
		return answer{
			estimate: func() int { return f.nums.estimate(b) },
			keys:     func() []string { return f.nums.keys(b) },
			check:    f.nums.checker(b),
		}, true
	case fc.DatetimeRange != nil && f.times != nil:
		r := fc.DatetimeRange
		b := bounds[int64]{lo: r.GTE, loIncl: true, hi: r.LTE, hiIncl: true}
		if r.GT != nil && (b.lo == nil || *r.GT >= *b.lo) {
			b.lo, b.loIncl = r.GT, false
		}
		if r.LT != nil && (b.hi == nil || *r.LT <= *b.hi) {
			b.hi, b.hiIncl = r.LT, false
		}
		return answer{
			estimate: func() int { return f.times.estimate(b) },
			keys:     func() []string { return f.times.keys(b) },
			check:    f.times.checker(b),
		}, true
	case f.geo != nil:
		box, contains, ok := geoBox(fc)
		if !ok {
			return answer{}, false
		}
		return answer{
			estimate: func() int { return f.geo.estimate(box) },
			keys:     func() []string { return f.geo.keys(box) },
			check:    f.geo.checker(contains),
		}, true
	}
	return answer{}, false
}

// floatBounds turns a range into one interval (the tighter of gt/gte and
// of lt/lte).
func floatBounds(r *filter.Range) bounds[float64] {
	b := bounds[float64]{lo: r.GTE, loIncl: true, hi: r.LTE, hiIncl: true}
	if r.GT != nil && (b.lo == nil || *r.GT >= *b.lo) {
		b.lo, b.loIncl = r.GT, false
	}
	if r.LT != nil && (b.hi == nil || *r.LT <= *b.hi) {
		b.hi, b.hiIncl = r.LT, false
	}
	return b
}

func (f *Field) answerMatch(m *filter.Match) (answer, bool) {
	hash := func(h interface {
		estimate([]string) int
		keys([]string) []string
		checker([]string) func(string) bool
	}, vals []string) (answer, bool) {
		return answer{
			estimate: func() int { return h.estimate(vals) },
			keys:     func() []string { return h.keys(vals) },
			check:    h.checker(vals),
		}, true
	}
	switch {
	case f.kw != nil && f.schema.Type == Keyword:
		switch m.Kind {
		case filter.MatchValue:
			if s, ok := m.Value.(string); ok {
				return hash(f.kw, []string{s})
			}
		case filter.MatchAny:
			if !m.IntList {
				return hash(f.kw, m.Strings)
			}
		case filter.MatchPrefix:
			return f.prefixAnswer(m.Text), true
		}
	case f.kw != nil: // uuid: only queries that are UUIDs can be stored
		vals := m.Strings
		if s, ok := m.Value.(string); ok && m.Kind == filter.MatchValue {
			vals = []string{s}
		} else if m.Kind != filter.MatchAny || m.IntList {
			return answer{}, false
		}
		for _, s := range vals {
			if _, ok := asUUID(s); !ok {
				return answer{}, false
			}
		}
		return hash(f.kw, vals)
	case f.ints != nil:
		var vals []int64
		switch {
		case m.Kind == filter.MatchValue:
			i, ok := m.Value.(int64)
			if !ok {
				return answer{}, false
			}
			vals = []int64{i}
		case m.Kind == filter.MatchAny && (m.IntList || len(m.Strings) == 0):
			vals = m.Ints
		default:
			return answer{}, false
		}
		return answer{
			estimate: func() int { return f.ints.estimate(vals) },
			keys:     func() []string { return f.ints.keys(vals) },
			check:    f.ints.checker(vals),
		}, true
	case f.bools != nil:
		b, ok := m.Value.(bool)
		if m.Kind != filter.MatchValue || !ok {
			return answer{}, false
		}
		vals := []bool{b}
		return answer{
			estimate: func() int { return f.bools.estimate(vals) },
			keys:     func() []string { return f.bools.keys(vals) },
			check:    f.bools.checker(vals),
		}, true
	case f.text != nil:
		q, ok := f.text.query(m)
		if !ok {
			return answer{}, false
		}
		a := answer{
			estimate: func() int { return f.text.estimate(q) },
			keys:     func() []string { return f.text.keys(q) },
		}
		if m.Kind != filter.MatchPhrase {
			a.check = f.text.checker(q)
		}
		return a, true
	}
	return answer{}, false
}

// prefixAnswer serves a prefix match from a keyword index by scanning its
// distinct values.
func (f *Field) prefixAnswer(prefix string) answer {
	matching := func() []string {
		var vals []string
		for v := range f.kw.points {
			if strings.HasPrefix(v, prefix) {
				vals = append(vals, v)
			}
		}
		return vals
	}
	return answer{
		estimate: func() int { return f.kw.estimate(matching()) },
		keys:     func() []string { return f.kw.keys(matching()) },
		check: func(key string) bool {
			for _, v := range f.kw.forward[key] {
				if strings.HasPrefix(v, prefix) {
					return true
				}
			}
			return false
		},
	}
}

// Orderable reports whether the field can serve order_by (an integer index
// with range, a float or a datetime index).
func (f *Field) Orderable() bool { return f.nums != nil || f.times != nil }

// Walk calls fn with the field's (value, point) pairs in value order (ties
// by point key), or in the exact reverse with desc, starting at start
// (inclusive: values >= start ascending, <= start descending), until fn
// returns false. A point with several values appears once per value.
// Datetime values are reported, and start is given, in seconds since the
// epoch (start is rounded to the microsecond).
func (f *Field) Walk(desc bool, start *float64, fn func(value float64, key string) bool) {
	switch {
	case f.nums != nil:
		var b bounds[float64]
		if start != nil {
			s := *start
			if desc {
				b.hi, b.hiIncl = &s, true
			} else {
				b.lo, b.loIncl = &s, true
			}
		}
		f.nums.walk(b, desc, fn)
	case f.times != nil:
		var b bounds[int64]
		if start != nil {
			us := int64(math.Round(*start * 1e6))
			if desc {
				b.hi, b.hiIncl = &us, true
			} else {
				b.lo, b.loIncl = &us, true
			}
		}
		f.times.walk(b, desc, func(us int64, key string) bool { return fn(float64(us)/1e6, key) })
	}
}
