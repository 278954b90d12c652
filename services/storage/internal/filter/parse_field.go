package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

var fieldKeys = []string{"key", "match", "range", "geo_bounding_box", "geo_radius", "geo_polygon", "values_count", "is_empty", "is_null"}

// boundNames are the range bounds in the order the parsers fill them.
var boundNames = [4]string{"gt", "gte", "lt", "lte"}

var matchKinds = map[string]MatchKind{
	"value": MatchValue, "any": MatchAny, "except": MatchExcept, "text": MatchText,
	"text_any": MatchTextAny, "phrase": MatchPhrase, "prefix": MatchPrefix,
}

func (p *parser) fieldCondition(m map[string]any, at string) (*FieldCondition, error) {
	if _, err := object(m, at, fieldKeys...); err != nil {
		return nil, err
	}
	key, err := pathField(m["key"], at+".key")
	if err != nil {
		return nil, err
	}
	fc := &FieldCondition{Key: key}
	n := 0
	if v := m["match"]; v != nil {
		n++
		if fc.Match, err = parseMatch(v, at+".match"); err != nil {
			return nil, err
		}
	}
	if v := m["range"]; v != nil {
		n++
		if fc.Range, fc.DatetimeRange, err = parseRange(v, at+".range"); err != nil {
			return nil, err
		}
	}
	if v := m["geo_radius"]; v != nil {
		n++
		if fc.GeoRadius, err = parseGeoRadius(v, at+".geo_radius"); err != nil {
			return nil, err
		}
	}
	if v := m["geo_bounding_box"]; v != nil {
		n++
		if fc.GeoBoundingBox, err = parseGeoBox(v, at+".geo_bounding_box"); err != nil {
			return nil, err
		}
	}
	if v := m["geo_polygon"]; v != nil {
		n++
		if fc.GeoPolygon, err = parseGeoPolygon(v, at+".geo_polygon"); err != nil {
			return nil, err
		}
	}
	if v := m["values_count"]; v != nil {
		n++
		if fc.ValuesCount, err = parseValuesCount(v, at+".values_count"); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"is_empty", "is_null"} {
		v := m[name]
		if v == nil {
			continue
		}
		b, ok := v.(bool)
		if !ok {
			return nil, errf(at+"."+name, "expected a boolean, got %s", kindOf(v))
		}
		n++
		if name == "is_empty" {
			fc.IsEmpty = &b
		} else {
			fc.IsNull = &b
		}
	}
	if n == 0 {
		return nil, errf(at, "at least one field condition must be specified (match, range, geo_radius, geo_bounding_box, geo_polygon, values_count, is_empty, is_null)")
	}
	return fc, nil
}

func parseMatch(v any, at string) (*Match, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errf(at, "expected an object, got %s", kindOf(v))
	}
	if len(m) != 1 {
		return nil, errf(at, "expected exactly one of value, any, except, text, text_any, phrase, prefix")
	}
	for name, arg := range m {
		kind, ok := matchKinds[name]
		if !ok {
			return nil, errf(at, "unknown field `%s`, expected one of value, any, except, text, text_any, phrase, prefix", name)
		}
		at := at + "." + name
		mt := &Match{Kind: kind}
		switch kind {
		case MatchValue:
			switch x := arg.(type) {
			case string, bool:
				mt.Value = x
			case json.Number:
				i, err := strconv.ParseInt(string(x), 10, 64)
				if err != nil {
					return nil, errf(at, "expected a string, a 64-bit integer or a boolean, got %s", x)
				}
				mt.Value = i
			default:
				return nil, errf(at, "expected a string, an integer or a boolean, got %s", kindOf(arg))
			}
		case MatchAny, MatchExcept:
			list, ok := arg.([]any)
			if !ok {
				return nil, errf(at, "expected an array of strings or of integers, got %s", kindOf(arg))
			}
			if err := matchList(mt, list, at); err != nil {
				return nil, err
			}
		default:
			s, ok := arg.(string)
			if !ok {
				return nil, errf(at, "expected a string, got %s", kindOf(arg))
			}
			mt.Text = s
		}
		return mt, nil
	}
	return nil, errf(at, "empty match")
}

// matchList fills a MatchAny / MatchExcept list: all strings or all
// integers.
func matchList(mt *Match, list []any, at string) error {
	mt.Strings = []string{}
	for i, e := range list {
		switch x := e.(type) {
		case string:
			if mt.IntList {
				return errf(at, "mixes integers and strings")
			}
			mt.Strings = append(mt.Strings, x)
		case json.Number:
			if len(mt.Strings) > 0 {
				return errf(at, "mixes strings and integers")
			}
			n, err := strconv.ParseInt(string(x), 10, 64)
			if err != nil {
				return errf(fmt.Sprintf("%s[%d]", at, i), "expected a 64-bit integer, got %s", x)
			}
			mt.IntList = true
			mt.Ints = append(mt.Ints, n)
		default:
			return errf(fmt.Sprintf("%s[%d]", at, i), "expected a string or an integer, got %s", kindOf(e))
		}
	}
	if mt.IntList {
		mt.Strings = nil
	}
	return nil
}

// parseRange parses a numeric range (number bounds) or a datetime range
// (string bounds); bounds of both kinds are an error.
func parseRange(v any, at string) (*Range, *DatetimeRange, error) {
	m, err := object(v, at, "gt", "gte", "lt", "lte")
	if err != nil {
		return nil, nil, err
	}
	var nums, strs int
	for _, b := range m {
		switch b.(type) {
		case nil:
		case json.Number:
			nums++
		case string:
			strs++
		default:
			return nil, nil, errf(at, "range bounds must be numbers or RFC 3339 datetimes, got %s", kindOf(b))
		}
	}
	if nums > 0 && strs > 0 {
		return nil, nil, errf(at, "range mixes number and datetime bounds")
	}
	if strs > 0 {
		r := &DatetimeRange{}
		for i, dst := range []**int64{&r.GT, &r.GTE, &r.LT, &r.LTE} {
			name := boundNames[i]
			s, ok := m[name].(string)
			if !ok {
				continue
			}
			us, ok := ParseDatetime(s)
			if !ok {
				return nil, nil, errf(at+"."+name, "'%s' is not a valid datetime (RFC 3339, e.g. 2023-02-08T10:49:00Z)", s)
			}
			*dst = &us
		}
		return nil, r, nil
	}
	r := &Range{}
	for i, dst := range []**float64{&r.GT, &r.GTE, &r.LT, &r.LTE} {
		name := boundNames[i]
		if m[name] == nil {
			continue
		}
		f, ok := AsFloat(m[name])
		if !ok || math.IsNaN(f) {
			return nil, nil, errf(at+"."+name, "expected a number")
		}
		*dst = &f
	}
	return r, nil, nil
}

func parseValuesCount(v any, at string) (*ValuesCount, error) {
	m, err := object(v, at, "gt", "gte", "lt", "lte")
	if err != nil {
		return nil, err
	}
	c := &ValuesCount{}
	for i, dst := range []**uint64{&c.GT, &c.GTE, &c.LT, &c.LTE} {
		name := boundNames[i]
		if m[name] == nil {
			continue
		}
		n, err := uintField(m[name], at+"."+name)
		if err != nil {
			return nil, err
		}
		*dst = &n
	}
	return c, nil
}

func parseGeoPoint(v any, at string) (GeoPoint, error) {
	m, err := object(v, at, "lat", "lon")
	if err != nil {
		return GeoPoint{}, err
	}
	lat, ok1 := AsFloat(m["lat"])
	lon, ok2 := AsFloat(m["lon"])
	if !ok1 || !ok2 {
		return GeoPoint{}, errf(at, "a geo point needs numeric lat and lon")
	}
	if lat < -90 || lat > 90 {
		return GeoPoint{}, errf(at+".lat", "latitude must be in range [-90, 90], got %v", lat)
	}
	if lon < -180 || lon > 180 {
		return GeoPoint{}, errf(at+".lon", "longitude must be in range [-180, 180], got %v", lon)
	}
	return GeoPoint{Lat: lat, Lon: lon}, nil
}

func parseGeoRadius(v any, at string) (*GeoRadius, error) {
	m, err := object(v, at, "center", "radius")
	if err != nil {
		return nil, err
	}
	c, err := parseGeoPoint(m["center"], at+".center")
	if err != nil {
		return nil, err
	}
	r, ok := AsFloat(m["radius"])
	if !ok || math.IsInf(r, 0) {
		return nil, errf(at+".radius", "expected a radius in meters")
	}
	return &GeoRadius{Center: c, Radius: r}, nil
}

func parseGeoBox(v any, at string) (*GeoBoundingBox, error) {
	m, err := object(v, at, "top_left", "bottom_right")
	if err != nil {
		return nil, err
	}
	tl, err := parseGeoPoint(m["top_left"], at+".top_left")
	if err != nil {
		return nil, err
	}
	br, err := parseGeoPoint(m["bottom_right"], at+".bottom_right")
	if err != nil {
		return nil, err
	}
	return &GeoBoundingBox{TopLeft: tl, BottomRight: br}, nil
}

func parseGeoPolygon(v any, at string) (*GeoPolygon, error) {
	m, err := object(v, at, "exterior", "interiors")
	if err != nil {
		return nil, err
	}
	ext, err := parseRing(m["exterior"], at+".exterior")
	if err != nil {
		return nil, err
	}
	g := &GeoPolygon{Exterior: ext}
	if m["interiors"] != nil {
		list, ok := m["interiors"].([]any)
		if !ok {
			return nil, errf(at+".interiors", "expected an array of line strings, got %s", kindOf(m["interiors"]))
		}
		for i, r := range list {
			ring, err := parseRing(r, fmt.Sprintf("%s.interiors[%d]", at, i))
			if err != nil {
				return nil, err
			}
			g.Interiors = append(g.Interiors, ring)
		}
	}
	return g, nil
}

// parseRing parses a closed line string: at least 4 points, the first
// equal to the last.
func parseRing(v any, at string) ([]GeoPoint, error) {
	m, err := object(v, at, "points")
	if err != nil {
		return nil, err
	}
	list, ok := m["points"].([]any)
	if !ok {
		return nil, errf(at+".points", "expected an array of geo points, got %s", kindOf(m["points"]))
	}
	if len(list) < 4 {
		return nil, errf(at+".points", "a polygon ring must consist of a minimum of 4 points, got %d", len(list))
	}
	ring := make([]GeoPoint, len(list))
	for i, e := range list {
		if ring[i], err = parseGeoPoint(e, fmt.Sprintf("%s.points[%d]", at, i)); err != nil {
			return nil, err
		}
	}
	if ring[0] != ring[len(ring)-1] {
		return nil, errf(at+".points", "the first and the last points of a polygon ring must be the same")
	}
	return ring, nil
}
