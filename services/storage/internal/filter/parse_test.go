package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	f := func(filterJSON, wantIn string) {
		t.Helper()
		got, err := Parse([]byte(filterJSON))
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("Parse(%s) = %v, %v; want a *filter.Error", filterJSON, got, err)
		}
		if !strings.HasPrefix(err.Error(), "Format error in JSON body: ") || !strings.Contains(err.Error(), wantIn) {
			t.Fatalf("Parse(%s) error %q, want it to contain %q", filterJSON, err, wantIn)
		}
	}
	f(`[]`, "filter: expected an object")
	f(`{"must":[1]}`, "filter.must[0]: expected a condition object")
	f(`{"muts":[]}`, "unknown field `muts`")
	f(`{"must":{"key":"a"}}`, "at least one field condition")
	f(`{"must":{"key":"a","mtach":{"value":1}}}`, "unknown field `mtach`")
	f(`{"must":{"key":"a..b","match":{"value":1}}}`, "invalid json path: 'a..b'")
	f(`{"must":{"key":"","match":{"value":1}}}`, "invalid json path")
	f(`{"must":{"key":"a[x]","match":{"value":1}}}`, "invalid json path")
	f(`{"must":{"key":"a","match":{"value":1.5}}}`, "match.value")
	f(`{"must":{"key":"a","match":{"value":null}}}`, "match.value")
	f(`{"must":{"key":"a","match":{"value":1,"any":[1]}}}`, "exactly one of")
	f(`{"must":{"key":"a","match":{"any":[1,"a"]}}}`, "mixes")
	f(`{"must":{"key":"a","match":{"any":[1.5]}}}`, "64-bit integer")
	f(`{"must":{"key":"a","match":{"text":5}}}`, "expected a string")
	f(`{"must":{"key":"a","range":{"gt":1,"lt":"2020-01-01"}}}`, "mixes number and datetime")
	f(`{"must":{"key":"a","range":{"gt":"tomorrow"}}}`, "not a valid datetime")
	f(`{"must":{"key":"a","range":{"gt":true}}}`, "range bounds must be")
	f(`{"must":{"key":"a","values_count":{"gt":-1}}}`, "non-negative integer")
	f(`{"must":{"key":"a","geo_radius":{"center":{"lat":91,"lon":0},"radius":1}}}`, "latitude must be in range")
	f(`{"must":{"key":"a","geo_radius":{"center":{"lat":0,"lon":0}}}}`, "radius")
	f(`{"must":{"key":"a","geo_polygon":{"exterior":{"points":[{"lat":0,"lon":0},{"lat":1,"lon":0},{"lat":0,"lon":0}]}}}}`, "minimum of 4 points")
	f(`{"must":{"key":"a","geo_polygon":{"exterior":{"points":[{"lat":0,"lon":0},{"lat":1,"lon":0},{"lat":1,"lon":1},{"lat":0,"lon":1}]}}}}`, "must be the same")
	f(`{"must":{"has_id":[-1]}}`, "not an unsigned integer")
	f(`{"must":{"has_id":["nope"]}}`, "unable to parse UUID: nope")
	f(`{"must":{"has_id":1}}`, "expected an array of point ids")
	f(`{"must":{"has_vector":1}}`, "expected a vector name")
	f(`{"must":{"nested":{"key":"a"}}}`, "missing field `filter`")
	f(`{"must":{"nested":{"key":"a","filter":{"must":{"has_id":[1]}}}}}`, "not supported inside a nested filter")
	f(`{"must":{"is_empty":{"key":"a","x":1}}}`, "unknown field `x`")
	f(`{"min_should":{"conditions":[],"min_count":0}}`, "must be 1 or more")
	f(`{"min_should":{"conditions":{},"min_count":1}}`, "expected an array of conditions")
	f(`{"must":{"slice":{"index":0,"total":2}}}`, "not supported")
	f(`{"must":{"foo":1}}`, "unknown condition field `foo`")
	f(`{"must":[]} x`, "filter")
	f(`{`, "filter")
	f(strings.Repeat(`{"must":`, 100)+`{}`+strings.Repeat(`}`, 100), "nested more than")
}

func TestParseShapes(t *testing.T) {
	f := func(filterJSON string, must, should, mustNot int, minShould bool) {
		t.Helper()
		got, err := Parse([]byte(filterJSON))
		if err != nil {
			t.Fatalf("Parse(%s): %v", filterJSON, err)
		}
		if got == nil {
			got = &Filter{}
		}
		if len(got.Must) != must || len(got.Should) != should || len(got.MustNot) != mustNot || (got.MinShould != nil) != minShould {
			t.Fatalf("Parse(%s) = %+v", filterJSON, got)
		}
	}
	f(``, 0, 0, 0, false)
	f(` null `, 0, 0, 0, false)
	f(`{}`, 0, 0, 0, false)
	f(`{"must":null,"should":null,"must_not":null,"min_should":null}`, 0, 0, 0, false)
	f(`{"must":{"has_id":[1]}}`, 1, 0, 0, false)
	f(`{"must":[{"has_id":[1]},{"is_empty":{"key":"a"}}],"should":{"is_null":{"key":"b"}},"must_not":[]}`, 2, 1, 0, false)
	f(`{"min_should":{"conditions":[{"has_id":[1]}],"min_count":5}}`, 0, 0, 0, true)
	f(`{"must":{"key":"a","match":null,"range":{"gt":1},"geo_radius":null}}`, 1, 0, 0, false)
}
