package grpcapi

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Payloads: gRPC's map[string]*Value and the service's JSON objects.

// payloadToJSON encodes a gRPC payload as a JSON object (nil for an empty
// or absent payload).
func payloadToJSON(m map[string]*qdrant.Value) (json.RawMessage, error) {
	if len(m) == 0 {
		return nil, nil
	}
	obj, err := structToAny(m)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, apierr.Format("payload: %v", err)
	}
	return b, nil
}

func structToAny(m map[string]*qdrant.Value) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		x, err := valueToAny(v)
		if err != nil {
			return nil, err
		}
		out[k] = x
	}
	return out, nil
}

// valueToAny converts one Value; integers stay int64, doubles must be
// finite (JSON has no NaN).
func valueToAny(v *qdrant.Value) (any, error) {
	switch k := v.GetKind().(type) {
	case nil, *qdrant.Value_NullValue:
		return nil, nil
	case *qdrant.Value_DoubleValue:
		if math.IsNaN(k.DoubleValue) || math.IsInf(k.DoubleValue, 0) {
			return nil, apierr.Format("payload: %v is not a valid JSON number", k.DoubleValue)
		}
		return k.DoubleValue, nil
	case *qdrant.Value_IntegerValue:
		return k.IntegerValue, nil
	case *qdrant.Value_StringValue:
		return k.StringValue, nil
	case *qdrant.Value_BoolValue:
		return k.BoolValue, nil
	case *qdrant.Value_StructValue:
		return structToAny(k.StructValue.GetFields())
	case *qdrant.Value_ListValue:
		out := make([]any, len(k.ListValue.GetValues()))
		for i, e := range k.ListValue.GetValues() {
			x, err := valueToAny(e)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	return nil, apierr.Format("payload: unknown value kind")
}

// payloadFromJSON decodes a stored payload (a JSON object; empty for
// none) into gRPC values. Integral numbers that fit an int64 become
// integers, other numbers doubles.
func payloadFromJSON(raw json.RawMessage) map[string]*qdrant.Value {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil
	}
	return anyToStruct(obj)
}

func anyToStruct(obj map[string]any) map[string]*qdrant.Value {
	out := make(map[string]*qdrant.Value, len(obj))
	for k, v := range obj {
		out[k] = anyToValue(v)
	}
	return out
}

func anyToValue(v any) *qdrant.Value {
	switch x := v.(type) {
	case nil:
		return &qdrant.Value{Kind: &qdrant.Value_NullValue{}}
	case bool:
		return &qdrant.Value{Kind: &qdrant.Value_BoolValue{BoolValue: x}}
	case string:
		return &qdrant.Value{Kind: &qdrant.Value_StringValue{StringValue: x}}
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
			return &qdrant.Value{Kind: &qdrant.Value_IntegerValue{IntegerValue: i}}
		}
		f, _ := x.Float64()
		return &qdrant.Value{Kind: &qdrant.Value_DoubleValue{DoubleValue: f}}
	case float64:
		return &qdrant.Value{Kind: &qdrant.Value_DoubleValue{DoubleValue: x}}
	case map[string]any:
		return &qdrant.Value{Kind: &qdrant.Value_StructValue{StructValue: &qdrant.Struct{Fields: anyToStruct(x)}}}
	case []any:
		list := make([]*qdrant.Value, len(x))
		for i, e := range x {
			list[i] = anyToValue(e)
		}
		return &qdrant.Value{Kind: &qdrant.Value_ListValue{ListValue: &qdrant.ListValue{Values: list}}}
	}
	return &qdrant.Value{Kind: &qdrant.Value_NullValue{}}
}

// messageToMap renders the populated fields of a gRPC message in
// Qdrant's REST JSON shape: field names as in the proto (snake_case, like
// REST), 64-bit integers as JSON numbers, float32 values at float32
// precision, enum values by their lower-cased name (Datatype_Float32 →
// "float32", TokenizerType_Word → "word"), nested messages as objects.
// The Qdrant configuration messages (HNSW, WAL, optimizer, quantization,
// strict mode, payload index parameters) have the REST shape under this
// rendering; callers special-case the few fields that differ.
func messageToMap(m protoreflect.Message) map[string]any {
	out := map[string]any{}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			items := make([]any, l.Len())
			for i := 0; i < l.Len(); i++ {
				items[i] = scalarToAny(fd, l.Get(i))
			}
			out[string(fd.Name())] = items
		case fd.IsMap():
			mm := map[string]any{}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				mm[k.String()] = scalarToAny(fd.MapValue(), mv)
				return true
			})
			out[string(fd.Name())] = mm
		default:
			out[string(fd.Name())] = scalarToAny(fd, v)
		}
		return true
	})
	return out
}

func scalarToAny(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return messageToMap(v.Message())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return strings.ToLower(string(ev.Name()))
		}
		return int64(v.Enum())
	case protoreflect.FloatKind:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(v.Float(), 'g', -1, 32), 64)
		return f
	}
	return v.Interface()
}
