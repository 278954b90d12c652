package filter

import (
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
)

// testPoint is a point with a payload, a key and vector names.
type testPoint struct {
	key     string
	payload map[string]any
	vectors map[string]bool
	loads   int
}

func (p *testPoint) Key() string { return p.key }
func (p *testPoint) Payload() map[string]any {
	p.loads++
	return p.payload
}
func (p *testPoint) HasVector(n string) bool { return p.vectors[n] }

func mustPayload(t *testing.T, s string) map[string]any {
	t.Helper()
	m, err := DecodePayload([]byte(s))
	if err != nil {
		t.Fatalf("payload %s: %v", s, err)
	}
	return m
}

// evalCase evaluates filter JSON against a payload for point id 7 with
// vectors "" and "img".
func evalCase(t *testing.T, ix Indexes, filterJSON, payload string) bool {
	t.Helper()
	f, err := Parse([]byte(filterJSON))
	if err != nil {
		t.Fatalf("parse %s: %v", filterJSON, err)
	}
	p := &testPoint{key: IDKey(pointid.Num(7)), payload: mustPayload(t, payload), vectors: map[string]bool{"": true, "img": true}}
	got := Compile(f, ix).Match(p)
	if p.loads > 1 {
		t.Fatalf("%s: payload loaded %d times", filterJSON, p.loads)
	}
	return got
}

func TestFieldConditions(t *testing.T) {
	f := func(filterJSON, payload string, want bool) {
		t.Helper()
		if got := evalCase(t, nil, filterJSON, payload); got != want {
			t.Errorf("filter %s on %s = %v, want %v", filterJSON, payload, got, want)
		}
	}
	m := func(key, match string) string {
		return `{"must":[{"key":"` + key + `","match":` + match + `}]}`
	}
	// match value: strings, integers, bools; arrays match by any element;
	// type mismatches and missing keys never match.
	f(m("city", `{"value":"Berlin"}`), `{"city":"Berlin"}`, true)
	f(m("city", `{"value":"Berlin"}`), `{"city":"berlin"}`, false)
	f(m("city", `{"value":"Berlin"}`), `{"city":["London","Berlin"]}`, true)
	f(m("city", `{"value":"Berlin"}`), `{"city":[["Berlin"]]}`, false)
	f(m("city", `{"value":"Berlin"}`), `{}`, false)
	f(m("city", `{"value":"Berlin"}`), `{"city":null}`, false)
	f(m("n", `{"value":5}`), `{"n":5}`, true)
	f(m("n", `{"value":5}`), `{"n":5.0}`, false)
	f(m("n", `{"value":5}`), `{"n":"5"}`, false)
	f(m("n", `{"value":-3}`), `{"n":[1,-3]}`, true)
	f(m("ok", `{"value":true}`), `{"ok":true}`, true)
	f(m("ok", `{"value":true}`), `{"ok":1}`, false)
	f(m("ok", `{"value":false}`), `{"ok":[true,false]}`, true)
	// any / except.
	f(m("c", `{"any":["a","b"]}`), `{"c":"b"}`, true)
	f(m("c", `{"any":["a","b"]}`), `{"c":"x"}`, false)
	f(m("c", `{"any":[1,2]}`), `{"c":[5,2]}`, true)
	f(m("c", `{"any":[]}`), `{"c":"a"}`, false)
	f(m("c", `{"except":["a","b"]}`), `{"c":"x"}`, true)
	f(m("c", `{"except":["a","b"]}`), `{"c":"a"}`, false)
	f(m("c", `{"except":["a","b"]}`), `{"c":["a","x"]}`, true)
	f(m("c", `{"except":["a","b"]}`), `{"c":["a","b"]}`, false)
	f(m("c", `{"except":["a"]}`), `{"c":5}`, true)
	f(m("c", `{"except":["a"]}`), `{"c":true}`, true)
	f(m("c", `{"except":["a"]}`), `{"c":null}`, false)
	f(m("c", `{"except":["a"]}`), `{}`, false)
	f(m("c", `{"except":[1]}`), `{"c":1}`, false)
	f(m("c", `{"except":[1]}`), `{"c":1.5}`, true)
	f(m("c", `{"except":[1]}`), `{"c":"1"}`, true)
	// text without a text index: substring; text_any: any word; phrase:
	// substring; prefix.
	f(m("d", `{"text":"good cheap"}`), `{"d":"a good cheap car"}`, true)
	f(m("d", `{"text":"cheap good"}`), `{"d":"a good cheap car"}`, false)
	f(m("d", `{"text_any":"cheap fast"}`), `{"d":"a good cheap car"}`, true)
	f(m("d", `{"text_any":"slow fast"}`), `{"d":"a good cheap car"}`, false)
	f(m("d", `{"phrase":"good cheap"}`), `{"d":["x","a good cheap car"]}`, true)
	f(m("d", `{"prefix":"goo"}`), `{"d":"good"}`, true)
	f(m("d", `{"prefix":"ood"}`), `{"d":"good"}`, false)
	// range over numbers: ints and floats alike, any element.
	r := func(key, rng string) string { return `{"must":{"key":"` + key + `","range":` + rng + `}}` }
	f(r("p", `{"gte":1,"lt":2}`), `{"p":1}`, true)
	f(r("p", `{"gte":1,"lt":2}`), `{"p":1.99}`, true)
	f(r("p", `{"gte":1,"lt":2}`), `{"p":2}`, false)
	f(r("p", `{"gt":1}`), `{"p":1}`, false)
	f(r("p", `{"lte":1}`), `{"p":1}`, true)
	f(r("p", `{"gt":10}`), `{"p":[1,20]}`, true)
	f(r("p", `{"gt":10}`), `{"p":"20"}`, false)
	f(r("p", `{}`), `{"p":-5}`, true)
	f(r("p", `{}`), `{"p":"x"}`, false)
	f(r("p", `{"gt":null,"lt":0}`), `{"p":-5}`, true)
	// datetime ranges: RFC 3339 and the other documented forms.
	f(r("t", `{"gte":"2023-02-08T10:49:00Z"}`), `{"t":"2023-02-08T11:49:00+01:00"}`, true)
	f(r("t", `{"gt":"2023-02-08T10:49:00Z"}`), `{"t":"2023-02-08T11:49:00+01:00"}`, false)
	f(r("t", `{"lt":"2023-02-09"}`), `{"t":"2023-02-08 23:59:59.5"}`, true)
	f(r("t", `{"lt":"2023-02-09"}`), `{"t":["2024-01-01T00:00","2023-01-01"]}`, true)
	f(r("t", `{"lt":"2023-02-09"}`), `{"t":"yesterday"}`, false)
	f(r("t", `{"lt":"2023-02-09"}`), `{"t":1}`, false)
	// values_count: arrays count their elements, scalars one, null none;
	// a missing key counts as zero.
	vc := func(c string) string { return `{"must":{"key":"c","values_count":` + c + `}}` }
	f(vc(`{"gt":2}`), `{"c":["a","b","c"]}`, true)
	f(vc(`{"gt":2}`), `{"c":["a","b"]}`, false)
	f(vc(`{"lte":1}`), `{"c":"a"}`, true)
	f(vc(`{"lt":1}`), `{}`, true)
	f(vc(`{"lt":1}`), `{"c":null}`, true)
	f(vc(`{"gte":1}`), `{}`, false)
	// geo.
	berlin := `{"loc":{"lat":52.52,"lon":13.405}}`
	f(`{"must":{"key":"loc","geo_radius":{"center":{"lat":52.5,"lon":13.4},"radius":3000}}}`, berlin, true)
	f(`{"must":{"key":"loc","geo_radius":{"center":{"lat":52.5,"lon":13.4},"radius":1000}}}`, berlin, false)
	f(`{"must":{"key":"loc","geo_radius":{"center":{"lat":52.5,"lon":13.4},"radius":3000}}}`, `{"loc":[{"lat":0,"lon":0},{"lat":52.52,"lon":13.405}]}`, true)
	f(`{"must":{"key":"loc","geo_radius":{"center":{"lat":52.5,"lon":13.4},"radius":3000}}}`, `{"loc":{"lat":"52.52","lon":13.405}}`, false)
	f(`{"must":{"key":"loc","geo_bounding_box":{"top_left":{"lat":53,"lon":13},"bottom_right":{"lat":52,"lon":14}}}}`, berlin, true)
	f(`{"must":{"key":"loc","geo_bounding_box":{"top_left":{"lat":53,"lon":14},"bottom_right":{"lat":52,"lon":15}}}}`, berlin, false)
	// A box crossing the antimeridian.
	f(`{"must":{"key":"loc","geo_bounding_box":{"top_left":{"lat":10,"lon":170},"bottom_right":{"lat":-10,"lon":-170}}}}`, `{"loc":{"lat":0,"lon":-175}}`, true)
	f(`{"must":{"key":"loc","geo_bounding_box":{"top_left":{"lat":10,"lon":170},"bottom_right":{"lat":-10,"lon":-170}}}}`, `{"loc":{"lat":0,"lon":0}}`, false)
	poly := `{"must":{"key":"loc","geo_polygon":{"exterior":{"points":[{"lon":-70,"lat":-70},{"lon":60,"lat":-70},{"lon":60,"lat":60},{"lon":-70,"lat":60},{"lon":-70,"lat":-70}]},"interiors":[{"points":[{"lon":-65,"lat":-65},{"lon":0,"lat":-65},{"lon":0,"lat":0},{"lon":-65,"lat":0},{"lon":-65,"lat":-65}]}]}}}`
	f(poly, `{"loc":{"lat":30,"lon":30}}`, true)
	f(poly, `{"loc":{"lat":-30,"lon":-30}}`, false) // in the hole
	f(poly, `{"loc":{"lat":0,"lon":-30}}`, true)    // on the hole's edge
	f(poly, `{"loc":{"lat":60,"lon":0}}`, true)     // on the exterior's edge
	f(poly, `{"loc":{"lat":61,"lon":0}}`, false)
}

func TestPresenceConditions(t *testing.T) {
	f := func(filterJSON, payload string, want bool) {
		t.Helper()
		if got := evalCase(t, nil, filterJSON, payload); got != want {
			t.Errorf("filter %s on %s = %v, want %v", filterJSON, payload, got, want)
		}
	}
	empty := `{"must":{"is_empty":{"key":"r"}}}`
	null := `{"must":{"is_null":{"key":"r"}}}`
	for _, c := range []struct {
		payload       string
		isEmpty, null bool
	}{
		{`{}`, true, false},
		{`{"r":null}`, true, true},
		{`{"r":[]}`, true, false},
		{`{"r":[null]}`, false, false},
		{`{"r":0}`, false, false},
		{`{"r":""}`, false, false},
		{`{"r":{}}`, false, false},
		{`{"r":["x"]}`, false, false},
	} {
		f(empty, c.payload, c.isEmpty)
		f(null, c.payload, c.null)
		// The field-condition shorthands, and must_not.
		f(`{"must":{"key":"r","is_empty":true}}`, c.payload, c.isEmpty)
		f(`{"must":{"key":"r","is_empty":false}}`, c.payload, !c.isEmpty)
		f(`{"must":{"key":"r","is_null":true}}`, c.payload, c.null)
		f(`{"must_not":{"is_empty":{"key":"r"}}}`, c.payload, !c.isEmpty)
	}
	// Paths through arrays of objects.
	f(`{"must":{"is_null":{"key":"a[].b"}}}`, `{"a":[{"b":1},{"b":null}]}`, true)
	f(`{"must":{"is_empty":{"key":"a[].c"}}}`, `{"a":[{"b":1},{"c":[]}]}`, true)
	f(`{"must":{"is_empty":{"key":"a[].b"}}}`, `{"a":[{"b":1},{"c":[]}]}`, false)
	// has_id and has_vector (the test point is id 7 with vectors "" and img).
	f(`{"must":{"has_id":[1,7,"5c56c793-69f3-4fbf-87e6-c4bf54c28c26"]}}`, `{}`, true)
	f(`{"must":{"has_id":[1,2]}}`, `{}`, false)
	f(`{"must":{"has_id":[]}}`, `{}`, false)
	f(`{"must":{"has_vector":"img"}}`, `{}`, true)
	f(`{"must":{"has_vector":""}}`, `{}`, true)
	f(`{"must":{"has_vector":"text"}}`, `{}`, false)
}

func TestClausesAndPaths(t *testing.T) {
	f := func(filterJSON, payload string, want bool) {
		t.Helper()
		if got := evalCase(t, nil, filterJSON, payload); got != want {
			t.Errorf("filter %s on %s = %v, want %v", filterJSON, payload, got, want)
		}
	}
	london := `{"key":"city","match":{"value":"London"}}`
	red := `{"key":"color","match":{"value":"red"}}`
	lr := `{"city":"London","color":"red"}`
	lg := `{"city":"London","color":"green"}`
	bg := `{"city":"Berlin","color":"green"}`
	f(`{}`, lg, true)
	f(`null`, lg, true)
	f(`{"must":[`+london+`,`+red+`]}`, lr, true)
	f(`{"must":[`+london+`,`+red+`]}`, lg, false)
	f(`{"should":[`+london+`,`+red+`]}`, lg, true)
	f(`{"should":[`+london+`,`+red+`]}`, bg, false)
	f(`{"should":[]}`, bg, true)
	f(`{"must_not":[`+london+`,`+red+`]}`, bg, true)
	f(`{"must_not":[`+london+`,`+red+`]}`, lg, false)
	f(`{"must":`+london+`,"must_not":`+red+`}`, lg, true)
	// Nested boolean filters as conditions.
	f(`{"must":[{"should":[`+london+`,`+red+`]},{"must_not":`+red+`}]}`, lg, true)
	f(`{"must":[{"should":[`+london+`,`+red+`]},{"must_not":`+red+`}]}`, lr, false)
	// min_should.
	ms := func(n int) string {
		return `{"min_should":{"conditions":[` + london + `,` + red + `,{"key":"size","match":{"value":3}}],"min_count":` + string(rune('0'+n)) + `}}`
	}
	f(ms(1), lg, true)
	f(ms(2), lg, false)
	f(ms(2), lr, true)
	f(ms(3), lr, false)
	f(ms(3), `{"city":"London","color":"red","size":3}`, true)
	// Nested keys.
	f(`{"must":{"key":"country.name","match":{"value":"Japan"}}}`, `{"country":{"name":"Japan"}}`, true)
	f(`{"must":{"key":"country.cities[].population","range":{"gte":9}}}`, `{"country":{"cities":[{"population":8},{"population":9.5}]}}`, true)
	f(`{"must":{"key":"country.cities[].population","range":{"gte":10}}}`, `{"country":{"cities":[{"population":8},{"population":9.5}]}}`, false)
	f(`{"must":{"key":"country.cities[].sightseeing","match":{"value":"Osaka Castle"}}}`, `{"country":{"cities":[{"sightseeing":["Tokyo Tower","Osaka Castle"]}]}}`, true)
	// A key step does not look into arrays: a.b finds nothing in [{b}].
	f(`{"must":{"key":"a.b","match":{"value":1}}}`, `{"a":[{"b":1}]}`, false)
	f(`{"must":{"key":"a[0].b","match":{"value":1}}}`, `{"a":[{"b":1}]}`, true)
	f(`{"must":{"key":"a[1].b","match":{"value":1}}}`, `{"a":[{"b":1}]}`, false)
	f(`{"must":{"key":"\"a.b\"","match":{"value":1}}}`, `{"a.b":1}`, true)
	// nested: conditions apply to one element.
	diet := `{"diet":[{"food":"leaves","likes":false},{"food":"meat","likes":true}]}`
	diet2 := `{"diet":[{"food":"leaves","likes":true},{"food":"meat","likes":false}]}`
	flat := `{"must":[{"key":"diet[].food","match":{"value":"meat"}},{"key":"diet[].likes","match":{"value":true}}]}`
	nested := `{"must":{"nested":{"key":"diet","filter":{"must":[{"key":"food","match":{"value":"meat"}},{"key":"likes","match":{"value":true}}]}}}}`
	nestedBrackets := `{"must":{"nested":{"key":"diet[]","filter":{"must":[{"key":"food","match":{"value":"meat"}},{"key":"likes","match":{"value":true}}]}}}}`
	f(flat, diet, true)
	f(flat, diet2, true)
	f(nested, diet, true)
	f(nested, diet2, false)
	f(nestedBrackets, diet, true)
	f(nestedBrackets, diet2, false)
	f(nested, `{"diet":{"food":"meat","likes":true}}`, false)
	// Nested in nested.
	deep := `{"a":[{"b":[{"x":1,"y":2}]},{"b":[{"x":1},{"y":2}]}]}`
	f(`{"must":{"nested":{"key":"a","filter":{"must":{"nested":{"key":"b","filter":{"must":[{"key":"x","match":{"value":1}},{"key":"y","match":{"value":2}}]}}}}}}}`, deep, true)
	f(`{"must":{"nested":{"key":"a[1].b","filter":{"must":[{"key":"x","match":{"value":1}},{"key":"y","match":{"value":2}}]}}}}`, deep, false)
	// A field condition with several tests ORs them.
	f(`{"must":{"key":"p","match":{"value":"x"},"range":{"gt":5}}}`, `{"p":7}`, true)
	f(`{"must":{"key":"p","match":{"value":"x"},"range":{"gt":5}}}`, `{"p":"x"}`, true)
	f(`{"must":{"key":"p","match":{"value":"x"},"range":{"gt":5}}}`, `{"p":1}`, false)
}

// fakeIndexes answers city conditions from a table and tokenizes "d".
type fakeIndexes struct {
	cities map[string]string // key -> city
}

func (x fakeIndexes) Checker(fc *FieldCondition) func(string) bool {
	if fc.Key.String() != "city" || fc.Match == nil || fc.Match.Kind != MatchValue {
		return nil
	}
	want, _ := fc.Match.Value.(string)
	return func(key string) bool { return x.cities[key] == want }
}

func (fakeIndexes) Tokenizer(path string) *Tokenizer {
	if path == "d" || path == "docs[].d" {
		return &DefaultTokenizer
	}
	return nil
}

func TestIndexes(t *testing.T) {
	key := IDKey(pointid.Num(7))
	ix := fakeIndexes{cities: map[string]string{key: "Oslo"}}
	f := func(filterJSON, payload string, want bool) {
		t.Helper()
		if got := evalCase(t, ix, filterJSON, payload); got != want {
			t.Errorf("filter %s on %s = %v, want %v", filterJSON, payload, got, want)
		}
	}
	// The checker, not the payload, answers the indexed condition.
	f(`{"must":{"key":"city","match":{"value":"Oslo"}}}`, `{"city":"Rome"}`, true)
	f(`{"must":{"key":"city","match":{"value":"Rome"}}}`, `{"city":"Rome"}`, false)
	// With a text index, text matches tokens (lower-cased, any order).
	f(`{"must":{"key":"d","match":{"text":"Cheap GOOD"}}}`, `{"d":"a good, cheap car"}`, true)
	f(`{"must":{"key":"d","match":{"text":"goo"}}}`, `{"d":"a good, cheap car"}`, false)
	f(`{"must":{"key":"d","match":{"text":"car good"}}}`, `{"d":["a good one","a car"]}`, true)
	f(`{"must":{"key":"d","match":{"text_any":"boat car"}}}`, `{"d":"a good, cheap car"}`, true)
	f(`{"must":{"key":"d","match":{"phrase":"cheap car"}}}`, `{"d":"a good, cheap car"}`, true)
	f(`{"must":{"key":"d","match":{"phrase":"car cheap"}}}`, `{"d":"a good, cheap car"}`, false)
	f(`{"must":{"key":"d","match":{"text":"!!"}}}`, `{"d":"!!"}`, false)
	// Inside nested, the tokenizer of the full path applies.
	f(`{"must":{"nested":{"key":"docs","filter":{"must":{"key":"d","match":{"text":"CAR"}}}}}}`, `{"docs":[{"d":"a car"}]}`, true)
	// Without an index on the path, text stays a substring match.
	f(`{"must":{"key":"e","match":{"text":"CAR"}}}`, `{"e":"a car"}`, false)
}
