package filter

import (
	"errors"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
)

// fuzzPayloads are evaluated with every filter the fuzzer finds valid.
var fuzzPayloads = []string{
	`{}`,
	`{"a":1,"b":"x","c":[1,"x",null,[2],{"d":3}],"e":null,"f":[]}`,
	`{"a":{"b":[{"c":1.5,"d":"2023-02-08T10:49:00Z"},{"c":[1,2]}]},"loc":{"lat":52.5,"lon":13.4}}`,
	`{"t":"Good cheap car","n":-9223372036854775808,"u":18446744073709551615,"big":1e400}`,
}

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, every
// failure must be an *Error, and every filter it accepts must evaluate
// (with and without indexes) without panicking. The seed corpus runs in
// `go test`.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"must":[]}`, `{"must":{}}`,
		`{"must":[{"key":"city","match":{"value":"London"}},{"key":"n","match":{"value":5}},{"key":"ok","match":{"value":true}}]}`,
		`{"should":[{"key":"c","match":{"any":["a","b"]}},{"key":"c","match":{"except":[1,2]}}],"must_not":{"has_id":[1,"5c56c793-69f3-4fbf-87e6-c4bf54c28c26"]}}`,
		`{"must":{"key":"t","match":{"text":"good"}},"should":[{"key":"t","match":{"text_any":"a b"}},{"key":"t","match":{"phrase":"cheap car"}},{"key":"t","match":{"prefix":"Go"}}]}`,
		`{"must":[{"key":"a.b[].c","range":{"gt":1,"lte":2.5}},{"key":"a.b[0].d","range":{"gte":"2023-01-01","lt":"2024-01-01T00:00:00+02:00"}}]}`,
		`{"must":[{"key":"loc","geo_radius":{"center":{"lat":52.5,"lon":13.4},"radius":1000}},{"key":"loc","geo_bounding_box":{"top_left":{"lat":53,"lon":13},"bottom_right":{"lat":52,"lon":14}}}]}`,
		`{"must":{"key":"loc","geo_polygon":{"exterior":{"points":[{"lon":0,"lat":0},{"lon":1,"lat":0},{"lon":1,"lat":1},{"lon":0,"lat":0}]},"interiors":[]}}}`,
		`{"must":[{"key":"c","values_count":{"gt":1,"lt":5}},{"is_empty":{"key":"f"}},{"is_null":{"key":"e"}},{"key":"e","is_null":true},{"key":"f","is_empty":false}]}`,
		`{"must":[{"has_vector":"img"},{"nested":{"key":"a.b","filter":{"must":{"key":"c","match":{"value":1}}}}}]}`,
		`{"min_should":{"conditions":[{"key":"a","match":{"value":1}},{"key":"b","match":{"value":"x"}}],"min_count":1}}`,
		`{"must":[{"must":[{"should":[{"must_not":[{"key":"a","match":{"value":1}}]}]}]}]}`,
		`{"must":{"key":"\"x.y\"[3][]","match":{"value":"z"}}}`,
		`{"must":{"key":"a","range":{"gt":1,"lt":"x"}}}`,
		`{"must":{"key":"a","match":{"value":1.5}}}`,
		`{"must":{"has_id":[-1]}}`,
		`{"must":{"key":"a..b","match":{"value":1}}}`,
	} {
		f.Add([]byte(seed))
	}
	payloads := make([]map[string]any, len(fuzzPayloads))
	for i, s := range fuzzPayloads {
		p, err := DecodePayload([]byte(s))
		if err != nil {
			f.Fatal(err)
		}
		payloads[i] = p
	}
	ix := fakeIndexes{cities: map[string]string{}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		flt, err := Parse(raw)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("%q: error %v (%T) is not a *filter.Error", raw, err, err)
			}
			return
		}
		for _, p := range payloads {
			pt := &testPoint{key: IDKey(pointid.Num(1)), payload: p, vectors: map[string]bool{"img": true}}
			a := Compile(flt, nil).Match(pt)
			b := Compile(flt, fakeIndexes{}).Match(pt)
			_ = Compile(flt, ix).Match(pt)
			// fakeIndexes{} only changes text semantics; without text
			// conditions both evaluations agree.
			if a != b && !hasText(flt) {
				t.Fatalf("%q: evaluation differs with an empty index set", raw)
			}
		}
	})
}

func hasText(f *Filter) bool {
	if f == nil {
		return false
	}
	var walk func(cs []*Condition) bool
	walk = func(cs []*Condition) bool {
		for _, c := range cs {
			switch {
			case c.Field != nil && c.Field.Match != nil && isTextKind(c.Field.Match.Kind):
				return true
			case c.Filter != nil && hasText(c.Filter), c.Nested != nil && hasText(c.Nested.Filter):
				return true
			}
		}
		return false
	}
	if f.MinShould != nil && walk(f.MinShould.Conditions) {
		return true
	}
	return walk(f.Must) || walk(f.Should) || walk(f.MustNot)
}
