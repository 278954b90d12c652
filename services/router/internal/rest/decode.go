package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// fields is a decoded JSON object: its members by name, undecoded.
type fields map[string]json.RawMessage

// object decodes body as a JSON object whose member names are all in
// allowed. An empty body is an empty object when emptyOK. Syntax errors,
// other JSON values and unknown members are format errors (400).
func object(body []byte, emptyOK bool, allowed ...string) (fields, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return fields{}, nil
		}
		return nil, apierr.Format("EOF while parsing a value at line 1 column 0")
	}
	if err := syntax(body); err != nil {
		return nil, err
	}
	return members(body, "", allowed...)
}

// syntax checks that body is one well-formed JSON value. The common valid
// body costs one allocation-free scan; only an invalid one is decoded again
// to word the error.
func syntax(body []byte) error {
	if json.Valid(body) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return jsonError(body, err)
	}
	if dec.More() {
		return apierr.Format("trailing characters after the JSON value")
	}
	if _, err := dec.Token(); err == nil {
		return apierr.Format("trailing characters after the JSON value")
	}
	return nil
}

// jsonError words a decoding error with its line and column.
func jsonError(body []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(body, se.Offset)
		return apierr.Format("%s at line %d column %d", se.Error(), line, col)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return apierr.Format("EOF while parsing a value")
	}
	return apierr.Format("%v", err)
}

func position(body []byte, offset int64) (line, col int) {
	line = 1
	for i := int64(0); i < offset && i < int64(len(body)); i++ {
		col++
		if body[i] == '\n' {
			line++
			col = 0
		}
	}
	return line, col
}

// members decodes raw (known to be valid JSON) as an object with members
// in allowed (all members when allowed is empty). what prefixes messages.
func members(raw json.RawMessage, what string, allowed ...string) (fields, error) {
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return nil, apierr.Format("%sexpected an object, got %s", prefix(what), kindOf(raw))
	}
	if len(allowed) > 0 {
		for k := range f {
			if !slices.Contains(allowed, k) {
				return nil, apierr.Format("%sunknown field `%s`, expected one of %s", prefix(what), k, quoteList(allowed))
			}
		}
	}
	return f, nil
}

func prefix(what string) string {
	if what == "" {
		return ""
	}
	return what + ": "
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}

// kindOf names the JSON type of raw for messages.
func kindOf(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// present reports whether field is given and not null.
func (f fields) present(name string) bool {
	raw, ok := f[name]
	return ok && !isNull(raw)
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// uintField decodes an optional non-negative integer member.
func (f fields) uintField(name string, bits int) (*uint64, error) {
	if !f.present(name) {
		return nil, nil
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(f[name])), 10, bits)
	if err != nil {
		return nil, apierr.Format("%s: invalid value %s, expected an unsigned integer", name, f[name])
	}
	return &v, nil
}

// intField decodes an optional non-negative integer member that fits an int.
func (f fields) intField(name string, def int) (int, error) {
	v, err := f.uintField(name, 31)
	if err != nil || v == nil {
		return def, err
	}
	return int(*v), nil
}

// uint32Field decodes an optional uint32 member.
func (f fields) uint32Field(name string) (*uint32, error) {
	v, err := f.uintField(name, 32)
	if err != nil || v == nil {
		return nil, err
	}
	u := uint32(*v)
	return &u, nil
}

// boolField decodes an optional boolean member.
func (f fields) boolField(name string) (*bool, error) {
	if !f.present(name) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(f[name], &b); err != nil {
		return nil, apierr.Format("%s: invalid type: %s, expected a boolean", name, kindOf(f[name]))
	}
	return &b, nil
}

// float32Field decodes an optional finite float member.
func (f fields) float32Field(name string) (*float32, error) {
	if !f.present(name) {
		return nil, nil
	}
	var v float64
	if err := json.Unmarshal(f[name], &v); err != nil {
		return nil, apierr.Format("%s: invalid type: %s, expected a number", name, kindOf(f[name]))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
		return nil, apierr.Format("%s: %s is not a finite 32-bit float", name, f[name])
	}
	x := float32(v)
	return &x, nil
}

// stringField decodes an optional string member.
func (f fields) stringField(name string) (*string, error) {
	if !f.present(name) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(f[name], &s); err != nil {
		return nil, apierr.Format("%s: invalid type: %s, expected a string", name, kindOf(f[name]))
	}
	return &s, nil
}

// mustBeNull rejects a member that Shoal does not support when it is set.
func (f fields) mustBeNull(name string, err error) error {
	if f.present(name) {
		return err
	}
	return nil
}

// floats decodes an array of finite numbers.
func floats(raw json.RawMessage, what string) ([]float32, error) {
	if out, ok := fastFloats(raw); ok {
		return out, nil
	}
	var v []float64
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		return nil, apierr.Format("%s: expected an array of numbers, got %s", what, kindOf(raw))
	}
	out := make([]float32, len(v))
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > math.MaxFloat32 {
			return nil, apierr.Format("%s: value %v is not a finite 32-bit float", what, x)
		}
		out[i] = float32(x)
	}
	return out, nil
}

// isArrayOfArrays reports whether raw is an array whose first element is
// an array (a multivector or a batch of vectors).
func isArrayOfArrays(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '[' {
		return false
	}
	t = bytes.TrimSpace(t[1:])
	return len(t) > 0 && t[0] == '['
}

// vectorStruct decodes Qdrant's VectorStruct: a plain vector (the unnamed
// vector, name "") or a map of named vectors. Multivectors, sparse vectors
// and inference objects are not supported yet.
func vectorStruct(raw json.RawMessage, what string) (map[string][]float32, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, apierr.Format("%s: missing field `vector`", what)
	}
	switch t[0] {
	case '[':
		if isArrayOfArrays(t) {
			return nil, apierr.Unsupported("multivectors")
		}
		v, err := floats(t, what)
		if err != nil {
			return nil, err
		}
		return map[string][]float32{"": v}, nil
	case '{':
		f, err := members(t, what)
		if err != nil {
			return nil, err
		}
		if isInference(f) {
			return nil, apierr.Unsupported("inference (Document, Image and Object vectors)")
		}
		out := make(map[string][]float32, len(f))
		for name, v := range f {
			vt := bytes.TrimSpace(v)
			switch {
			case len(vt) > 0 && vt[0] == '{':
				return nil, apierr.Unsupported("sparse vectors")
			case isArrayOfArrays(vt):
				return nil, apierr.Unsupported("multivectors")
			}
			if out[name], err = floats(vt, fmt.Sprintf("%s `%s`", what, name)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, apierr.Format("%s: expected a vector or an object of named vectors, got %s", what, kindOf(t))
}

// isInference reports whether an object is a Document, Image or
// InferenceObject (they name a model) rather than a map of vectors.
func isInference(f fields) bool {
	m, ok := f["model"]
	return ok && len(bytes.TrimSpace(m)) > 0 && bytes.TrimSpace(m)[0] == '"'
}

// pointID decodes an ExtendedPointId.
func pointID(raw json.RawMessage, what string) (*shoalv1.PointID, error) {
	if isNull(raw) {
		return nil, apierr.Format("%s: missing point id", what)
	}
	id, err := pointid.Parse(raw)
	if err != nil {
		if bytes.TrimSpace(raw)[0] == '"' {
			return nil, apierr.Format("%s: %v", what, err)
		}
		return nil, apierr.Format("%s: value %s is not a valid point ID, valid values are either an unsigned integer or a UUID", what, bytes.TrimSpace(raw))
	}
	return id, nil
}

// pointIDs decodes an array of ExtendedPointId.
func pointIDs(raw json.RawMessage, what string) ([]*shoalv1.PointID, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil || elems == nil {
		return nil, apierr.Format("%s: expected an array of point ids, got %s", what, kindOf(raw))
	}
	out := make([]*shoalv1.PointID, len(elems))
	for i, e := range elems {
		id, err := pointID(e, what)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// withPayload decodes WithPayloadInterface: a boolean, a list of fields to
// include, or {"include": …} / {"exclude": …}. Absent or null gives def.
func withPayload(raw json.RawMessage, def bool) (service.PayloadSelector, error) {
	if isNull(raw) {
		return service.PayloadSelector{Enabled: def}, nil
	}
	t := bytes.TrimSpace(raw)
	switch t[0] {
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(t, &b); err != nil {
			return service.PayloadSelector{}, apierr.Format("with_payload: %v", err)
		}
		return service.PayloadSelector{Enabled: b}, nil
	case '[':
		names, err := stringList(t, "with_payload")
		return service.PayloadSelector{Enabled: true, Include: names}, err
	case '{':
		f, err := members(t, "with_payload", "include", "exclude")
		if err != nil {
			return service.PayloadSelector{}, err
		}
		if len(f) != 1 {
			return service.PayloadSelector{}, apierr.Format("with_payload: expected exactly one of `include`, `exclude`")
		}
		sel := service.PayloadSelector{Enabled: true}
		if raw, ok := f["include"]; ok {
			sel.Include, err = stringOrList(raw, "with_payload.include")
		} else {
			sel.Exclude, err = stringOrList(f["exclude"], "with_payload.exclude")
		}
		return sel, err
	}
	return service.PayloadSelector{}, apierr.Format("with_payload: expected a boolean, a list of fields or a payload selector, got %s", kindOf(t))
}

// withVector decodes WithVector: a boolean or a list of vector names.
// Absent or null gives def.
func withVector(raw json.RawMessage, def bool) (service.VectorSelector, error) {
	if isNull(raw) {
		return service.VectorSelector{All: def}, nil
	}
	t := bytes.TrimSpace(raw)
	switch t[0] {
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(t, &b); err != nil {
			return service.VectorSelector{}, apierr.Format("with_vector: %v", err)
		}
		return service.VectorSelector{All: b}, nil
	case '[':
		names, err := stringList(t, "with_vector")
		return service.VectorSelector{Names: names}, err
	}
	return service.VectorSelector{}, apierr.Format("with_vector: expected a boolean or a list of vector names, got %s", kindOf(t))
}

func stringList(raw json.RawMessage, what string) ([]string, error) {
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil || out == nil {
		return nil, apierr.Format("%s: expected a list of strings", what)
	}
	return out, nil
}

func stringOrList(raw json.RawMessage, what string) ([]string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	return stringList(raw, what)
}
