package grpcapi

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestFilterJSON(t *testing.T) {
	f := func(name string, in *qdrant.Filter, want, wantErr string) {
		t.Helper()
		got, err := filterJSON(in)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%s: error %v, want %q", name, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Compare as decoded JSON, independent of member order.
		var g, w any
		_ = json.Unmarshal(got, &g)
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatalf("%s: bad want: %v", name, err)
		}
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("%s:\n got %s\nwant %s", name, gb, wb)
		}
	}
	cond := func(c ...*qdrant.Condition) []*qdrant.Condition { return c }
	f("nil", nil, `null`, "")
	f("keyword", &qdrant.Filter{Must: cond(qdrant.NewMatchKeyword("city", "Berlin"))}, `{"must":[{"key":"city","match":{"value":"Berlin"}}]}`, "")
	f("int, bool, text, phrase, text_any", &qdrant.Filter{Should: cond(
		qdrant.NewMatchInt("n", -3), qdrant.NewMatchBool("b", true), qdrant.NewMatchText("t", "hello"),
		qdrant.NewMatchPhrase("p", "a b"), qdrant.NewMatchTextAny("ta", "x y"))},
		`{"should":[{"key":"n","match":{"value":-3}},{"key":"b","match":{"value":true}},{"key":"t","match":{"text":"hello"}},{"key":"p","match":{"phrase":"a b"}},{"key":"ta","match":{"text_any":"x y"}}]}`, "")
	f("any and except", &qdrant.Filter{MustNot: cond(
		qdrant.NewMatchKeywords("k", "a", "b"), qdrant.NewMatchInts("i", 1, 2), qdrant.NewMatchExceptKeywords("k", "c"), qdrant.NewMatchExceptInts("i", 3))},
		`{"must_not":[{"key":"k","match":{"any":["a","b"]}},{"key":"i","match":{"any":[1,2]}},{"key":"k","match":{"except":["c"]}},{"key":"i","match":{"except":[3]}}]}`, "")
	f("range and values_count", &qdrant.Filter{Must: cond(
		qdrant.NewRange("price", &qdrant.Range{Gte: qdrant.PtrOf(1.5), Lt: qdrant.PtrOf(9.0)}),
		qdrant.NewValuesCount("tags", &qdrant.ValuesCount{Gt: qdrant.PtrOf(uint64(2))}))},
		`{"must":[{"key":"price","range":{"gte":1.5,"lt":9}},{"key":"tags","values_count":{"gt":2}}]}`, "")
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f("datetime range", &qdrant.Filter{Must: cond(qdrant.NewDatetimeRange("at", &qdrant.DatetimeRange{Gt: timestamppb.New(ts)}))},
		`{"must":[{"key":"at","range":{"gt":"2024-01-02T03:04:05Z"}}]}`, "")
	f("geo", &qdrant.Filter{Must: cond(
		qdrant.NewGeoRadius("loc", 52.5, 13.4, 1000),
		qdrant.NewGeoBoundingBox("loc", 53, 13, 52, 14))},
		`{"must":[{"key":"loc","geo_radius":{"center":{"lat":52.5,"lon":13.4},"radius":1000}},{"key":"loc","geo_bounding_box":{"top_left":{"lat":53,"lon":13},"bottom_right":{"lat":52,"lon":14}}}]}`, "")
	f("polygon", &qdrant.Filter{Must: cond(qdrant.NewGeoPolygon("loc", &qdrant.GeoLineString{Points: []*qdrant.GeoPoint{{Lat: 1, Lon: 2}}}))},
		`{"must":[{"key":"loc","geo_polygon":{"exterior":{"points":[{"lat":1,"lon":2}]}}}]}`, "")
	f("is_empty, is_null, has_id, has_vector", &qdrant.Filter{Must: cond(
		qdrant.NewIsEmpty("e"), qdrant.NewIsNull("n"),
		qdrant.NewHasID(qdrant.NewIDNum(5), qdrant.NewIDUUID("5C56C793-69F3-4FBF-87E6-C4BF54C28C26")), qdrant.NewHasVector("img"))},
		`{"must":[{"is_empty":{"key":"e"}},{"is_null":{"key":"n"}},{"has_id":[5,"5c56c793-69f3-4fbf-87e6-c4bf54c28c26"]},{"has_vector":"img"}]}`, "")
	f("nested and sub-filter", &qdrant.Filter{Must: cond(
		qdrant.NewNestedFilter("items", &qdrant.Filter{Must: cond(qdrant.NewMatchKeyword("x", "y"))}),
		qdrant.NewFilterAsCondition(&qdrant.Filter{Should: cond(qdrant.NewMatchInt("a", 1))}))},
		`{"must":[{"nested":{"key":"items","filter":{"must":[{"key":"x","match":{"value":"y"}}]}}},{"should":[{"key":"a","match":{"value":1}}]}]}`, "")
	f("min_should", &qdrant.Filter{MinShould: &qdrant.MinShould{Conditions: cond(qdrant.NewMatchInt("a", 1)), MinCount: 1}},
		`{"min_should":{"conditions":[{"key":"a","match":{"value":1}}],"min_count":1}}`, "")
	f("empty condition", &qdrant.Filter{Must: cond(&qdrant.Condition{})}, "", "empty condition")
	f("field without condition", &qdrant.Filter{Must: cond(qdrant.NewFilterAsCondition(nil), &qdrant.Condition{ConditionOneOf: &qdrant.Condition_Field{Field: &qdrant.FieldCondition{Key: "k"}}})}, "", "without a condition")
	f("bad uuid", &qdrant.Filter{Must: cond(qdrant.NewHasID(qdrant.NewIDUUID("nope")))}, "", "UUID")
}

func TestPayloadRoundTrip(t *testing.T) {
	in := qdrant.NewValueMap(map[string]any{"i": 7, "f": 1.25, "s": "x", "b": true, "n": nil, "l": []any{1, "a"}, "o": map[string]any{"k": 2}})
	raw, err := payloadToJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"b":true,"f":1.25,"i":7,"l":[1,"a"],"n":null,"o":{"k":2},"s":"x"}` {
		t.Fatalf("to JSON: %s", raw)
	}
	back := payloadFromJSON(raw)
	if back["i"].GetIntegerValue() != 7 || back["f"].GetDoubleValue() != 1.25 || back["o"].GetStructValue().GetFields()["k"].GetIntegerValue() != 2 ||
		back["l"].GetListValue().GetValues()[1].GetStringValue() != "a" || back["n"].GetNullValue() != qdrant.NullValue_NULL_VALUE {
		t.Fatalf("from JSON: %v", back)
	}
	if _, err := payloadToJSON(map[string]*qdrant.Value{"x": qdrant.NewValueDouble(mathNaN())}); err == nil {
		t.Fatal("NaN payload accepted")
	}
}

func TestConfigRendering(t *testing.T) {
	f := func(name string, got any, want string) {
		t.Helper()
		b, _ := json.Marshal(got)
		if string(b) != want {
			t.Errorf("%s: got %s, want %s", name, b, want)
		}
	}
	f("hnsw", messageToMap((&qdrant.HnswConfigDiff{M: qdrant.PtrOf(uint64(8)), OnDisk: qdrant.PtrOf(true)}).ProtoReflect()), `{"m":8,"on_disk":true}`)
	f("optimizers", optimizersMap(&qdrant.OptimizersConfigDiff{IndexingThreshold: qdrant.PtrOf(uint64(5)), MaxOptimizationThreads: qdrant.NewMaxOptimizationThreads(2)}),
		`{"indexing_threshold":5,"max_optimization_threads":2}`)
	f("quantization", messageToMap(qdrant.NewQuantizationScalar(&qdrant.ScalarQuantization{Type: qdrant.QuantizationType_Int8, Quantile: qdrant.PtrOf(float32(0.99))}).ProtoReflect()),
		`{"scalar":{"quantile":0.99,"type":"int8"}}`)
	f("disabled quantization", quantizationDiff(qdrant.NewQuantizationDiffDisabled()), `"Disabled"`)
	schema, _ := fieldSchema(qdrant.FieldType_FieldTypeText, &qdrant.PayloadIndexParams{IndexParams: &qdrant.PayloadIndexParams_TextIndexParams{TextIndexParams: &qdrant.TextIndexParams{Tokenizer: qdrant.TokenizerType_Word, MinTokenLen: qdrant.PtrOf(uint64(2))}}}, true)
	f("text index", json.RawMessage(schema), `{"min_token_len":2,"tokenizer":"word","type":"text"}`)
	schema, _ = fieldSchema(qdrant.FieldType_FieldTypeKeyword, nil, true)
	f("keyword index", json.RawMessage(schema), `"keyword"`)
}

func mathNaN() float64 { return math.NaN() }
