package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
)

// DecodePayload decodes a payload (a JSON object, or empty for none) into
// generic values with numbers kept as json.Number, so that integers and
// floats stay apart as they do in Qdrant (5 is an integer, 5.0 is not).
// An empty payload decodes to nil.
func DecodePayload(b []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var out map[string]any
	if err := decodeJSON(b, &out); err != nil {
		return nil, fmt.Errorf("decode payload: %w", err)
	}
	return out, nil
}

// decodeJSON decodes exactly one JSON value with json.Number numbers.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// EncodePayload encodes a payload object as compact JSON without HTML
// escaping (keys sorted, as encoding/json does). nil encodes to nil.
func EncodePayload(m map[string]any) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// AsInt returns v as an int64 when it is an integer the way Qdrant reads
// one: a JSON number written without fraction or exponent that fits in 64
// signed bits. Go integers are accepted too.
func AsInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// AsFloat returns v as a float64 when it is a JSON number (of any form).
func AsFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil && !math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// AsGeo returns v as a geo point when it is an object with numeric `lat`
// and `lon`.
func AsGeo(v any) (GeoPoint, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return GeoPoint{}, false
	}
	lat, ok1 := AsFloat(m["lat"])
	lon, ok2 := AsFloat(m["lon"])
	if !ok1 || !ok2 {
		return GeoPoint{}, false
	}
	return GeoPoint{Lat: lat, Lon: lon}, true
}
