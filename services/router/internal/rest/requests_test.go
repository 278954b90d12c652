package rest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// checkErr fails unless err matches want: "" for no error, otherwise a
// substring of the message, and kind for its kind.
func checkErr(t *testing.T, body string, err error, kind apierr.Kind, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s: unexpected error %v", body, err)
		}
		return err == nil
	}
	if err == nil {
		t.Errorf("%s: no error, want %q", body, want)
		return false
	}
	if apierr.KindOf(err) != kind || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: got %v %q, want %v containing %q", body, apierr.KindOf(err), err, kind, want)
	}
	return false
}

func u32(v uint32) *uint32 { return &v }

func TestDecodeCreateCollection(t *testing.T) {
	f := func(body string, want service.CreateCollectionRequest, errWant string) {
		t.Helper()
		got, err := decodeCreateCollection("c", []byte(body))
		if !checkErr(t, body, err, apierr.BadRequest, errWant) {
			return
		}
		want.Name = "c"
		if want.Vectors == nil {
			want.Vectors = map[string]service.VectorParams{}
		}
		if want.Extra == nil {
			want.Extra = map[string]json.RawMessage{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", body, got, want)
		}
	}
	dot := shoalv1.Distance_DISTANCE_DOT
	f(`{"vectors":{"size":4,"distance":"Dot"}}`, service.CreateCollectionRequest{Vectors: map[string]service.VectorParams{"": {Size: 4, Distance: dot}}}, "")
	f(`{"vectors":{"size":4,"distance":"Cosine","on_disk":true}}`, service.CreateCollectionRequest{Vectors: map[string]service.VectorParams{"": {Size: 4, Distance: shoalv1.Distance_DISTANCE_COSINE, Options: json.RawMessage(`{"on_disk":true}`)}}}, "")
	f(`{"vectors":{"image":{"size":2,"distance":"Euclid"},"text":{"size":3,"distance":"Manhattan"}},"shard_number":3,"replication_factor":2,"write_consistency_factor":1,"on_disk_payload":false}`,
		service.CreateCollectionRequest{
			Named: true,
			Vectors: map[string]service.VectorParams{
				"image": {Size: 2, Distance: shoalv1.Distance_DISTANCE_EUCLID},
				"text":  {Size: 3, Distance: shoalv1.Distance_DISTANCE_MANHATTAN},
			},
			ShardNumber: u32(3), ReplicationFactor: u32(2), WriteConsistencyFactor: u32(1), OnDiskPayload: new(bool),
		}, "")
	f(`{"vectors":{"size":4,"distance":"Dot"},"hnsw_config":{"m":32},"optimizers_config":null,"sparse_vectors":{"s":{}}}`,
		service.CreateCollectionRequest{
			Vectors: map[string]service.VectorParams{"": {Size: 4, Distance: dot}},
			Extra:   map[string]json.RawMessage{"hnsw_config": json.RawMessage(`{"m":32}`), "sparse_vectors": json.RawMessage(`{"s":{}}`)},
		}, "")
	f(`{}`, service.CreateCollectionRequest{Named: true}, "")
	f(`{"vectors":{"size":4,"distance":"Dot"},"shard_number":null}`, service.CreateCollectionRequest{Vectors: map[string]service.VectorParams{"": {Size: 4, Distance: dot}}}, "")

	f(``, service.CreateCollectionRequest{}, "Format error in JSON body: EOF")
	f(`{"vectors":`, service.CreateCollectionRequest{}, "Format error in JSON body")
	f(`[1]`, service.CreateCollectionRequest{}, "expected an object, got an array")
	f(`{"vectors":{"size":4,"distance":"Dot"}} x`, service.CreateCollectionRequest{}, "Format error in JSON body")
	f(`{"vectors":{"size":4,"distance":"Hamming"}}`, service.CreateCollectionRequest{}, "unknown variant `Hamming`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`")
	f(`{"vectors":{"size":4}}`, service.CreateCollectionRequest{}, "missing field `distance`")
	f(`{"vectors":{"distance":"Dot"}}`, service.CreateCollectionRequest{}, "missing field `size`")
	f(`{"vectors":{"size":-4,"distance":"Dot"}}`, service.CreateCollectionRequest{}, "expected an unsigned integer")
	f(`{"vectors":{"size":"4","distance":"Dot"}}`, service.CreateCollectionRequest{}, "expected an unsigned integer")
	f(`{"vectors":{"a":{"size":4,"distance":"Dot","colour":1}}}`, service.CreateCollectionRequest{}, "unknown field `colour`")
	f(`{"vectors":{"a":4}}`, service.CreateCollectionRequest{}, "vectors.a: expected an object, got a number")
	f(`{"vectors":[4]}`, service.CreateCollectionRequest{}, "vectors: expected an object, got an array")
	f(`{"vectors":{"size":4,"distance":"Dot"},"shards":3}`, service.CreateCollectionRequest{}, "unknown field `shards`")
	f(`{"vectors":{"size":4,"distance":"Dot"},"shard_number":4294967296}`, service.CreateCollectionRequest{}, "shard_number: invalid value")
	f(`{"vectors":{"size":4,"distance":"Dot"},"on_disk_payload":"yes"}`, service.CreateCollectionRequest{}, "on_disk_payload: invalid type: a string, expected a boolean")
}

func vec(v ...float32) []float32 { return v }

func TestDecodeUpsert(t *testing.T) {
	f := func(body string, want []service.PointInput, errWant string) {
		t.Helper()
		req, err := decodeUpsert([]byte(body))
		if !checkErr(t, body, err, apierr.BadRequest, errWant) {
			return
		}
		if got := req.Points; !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", body, got, want)
		}
	}
	u, _ := pointid.ParseString("5c56c793-69f3-4fbf-87e6-c4bf54c28c26")
	f(`{"points":[{"id":1,"vector":[1,2.5,-3],"payload":{"a":1}},{"id":"5C56C793-69F3-4FBF-87E6-C4BF54C28C26","vector":[0,0,0],"payload":null},{"id":2,"vector":[1,1,1]}]}`,
		[]service.PointInput{
			{ID: pointid.Num(1), Vectors: map[string][]float32{"": vec(1, 2.5, -3)}, Payload: json.RawMessage(`{"a":1}`)},
			{ID: u, Vectors: map[string][]float32{"": vec(0, 0, 0)}},
			{ID: pointid.Num(2), Vectors: map[string][]float32{"": vec(1, 1, 1)}},
		}, "")
	f(`{"points":[{"id":7,"vector":{"image":[1,2],"text":[3]}}]}`,
		[]service.PointInput{{ID: pointid.Num(7), Vectors: map[string][]float32{"image": vec(1, 2), "text": vec(3)}}}, "")
	f(`{"points":[]}`, []service.PointInput{}, "")
	f(`{"batch":{"ids":[1,2],"vectors":[[1,2],[3,4]],"payloads":[{"a":1},null]}}`,
		[]service.PointInput{
			{ID: pointid.Num(1), Vectors: map[string][]float32{"": vec(1, 2)}, Payload: json.RawMessage(`{"a":1}`)},
			{ID: pointid.Num(2), Vectors: map[string][]float32{"": vec(3, 4)}},
		}, "")
	f(`{"batch":{"ids":[1,2],"vectors":{"a":[[1],[2]],"b":[[3,3],[4,4]]}}}`,
		[]service.PointInput{
			{ID: pointid.Num(1), Vectors: map[string][]float32{"a": vec(1), "b": vec(3, 3)}},
			{ID: pointid.Num(2), Vectors: map[string][]float32{"a": vec(2), "b": vec(4, 4)}},
		}, "")
	f(`{"points":[{"id":1,"vector":[1]}],"shard_key":null,"update_filter":null,"update_mode":"upsert"}`,
		[]service.PointInput{{ID: pointid.Num(1), Vectors: map[string][]float32{"": vec(1)}}}, "")

	f(`{"points":[{"id":-1,"vector":[1]}]}`, nil, "value -1 is not a valid point ID")
	f(`{"points":[{"id":1.5,"vector":[1]}]}`, nil, "value 1.5 is not a valid point ID")
	f(`{"points":[{"id":"abc","vector":[1]}]}`, nil, "unable to parse UUID: abc")
	f(`{"points":[{"id":true,"vector":[1]}]}`, nil, "not a valid point ID")
	f(`{"points":[{"vector":[1]}]}`, nil, "missing field `id`")
	f(`{"points":[{"id":1}]}`, nil, "missing field `vector`")
	f(`{"points":[{"id":1,"vector":null}]}`, nil, "missing field `vector`")
	f(`{"points":[{"id":1,"vector":["a"]}]}`, nil, "expected an array of numbers")
	f(`{"points":[{"id":1,"vector":[1e39]}]}`, nil, "not a finite 32-bit float")
	f(`{"points":[{"id":1,"vector":[[1,2],[3,4]]}]}`, nil, "multivectors is not supported yet")
	f(`{"points":[{"id":1,"vector":{"s":{"indices":[1],"values":[0.5]}}}]}`, nil, "sparse vectors is not supported yet")
	f(`{"points":[{"id":1,"vector":{"text":"hello","model":"m"}}]}`, nil, "inference")
	f(`{"points":[{"id":1,"vector":[1],"payload":[1]}]}`, nil, "invalid type: an array, expected a map")
	f(`{"points":[{"id":1,"vector":[1],"extra":1}]}`, nil, "unknown field `extra`")
	f(`{"points":{}}`, nil, "expected an array of points")
	f(`{}`, nil, "missing field `points` or `batch`")
	f(`{"points":[],"batch":{}}`, nil, "not both")
	f(`{"points":[],"shard_key":true}`, nil, "shard_key: expected a string or a non-negative integer")
	f(`{"points":[],"shard_key":[1,-2]}`, nil, "shard_key[1]: expected a string or a non-negative integer")
	f(`{"points":[],"shard_key":{"target":"a"}}`, nil, "expected both `target` and `fallback`")
	f(`{"points":[],"update_filter":[1]}`, nil, "update_filter: invalid type: an array, expected struct Filter")
	f(`{"points":[],"update_mode":"insert"}`, nil, "update_mode: unknown variant `insert`")
	f(`{"points":[],"update_mode":1}`, nil, "update_mode")
	f(`{"batch":{"ids":[1,2],"vectors":[[1]]}}`, nil, "number of ids and vectors must be equal")
	f(`{"batch":{"ids":[1],"vectors":[[1]],"payloads":[]}}`, nil, "number of ids and payloads must be equal")
	f(`{"batch":{"ids":[1],"vectors":{"a":[[1],[2]]}}}`, nil, "number of ids and vectors must be equal")
	f(`{"batch":{"ids":[1]}}`, nil, "missing field `vectors`")
	f(`{"batch":{"vectors":[[1]]}}`, nil, "missing field `ids`")
	f(`{"batch":{"ids":[1],"vectors":5}}`, nil, "batch.vectors: expected")
	f(`not json`, nil, "Format error in JSON body: invalid character 'o' in literal null (expecting 'u') at line 1 column 2")
}

func TestDecodeUpsertConditions(t *testing.T) {
	pts := `"points":[{"id":1,"vector":[1]}]`
	for body, want := range map[string]service.UpsertRequest{
		`{` + pts + `}`:                             {},
		`{` + pts + `,"update_mode":null}`:          {},
		`{` + pts + `,"update_mode":"upsert"}`:      {Mode: shoalv1.UpdateMode_UPDATE_MODE_UPSERT},
		`{` + pts + `,"update_mode":"insert_only"}`: {Mode: shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY},
		`{` + pts + `,"update_mode":"update_only","update_filter":{"must":[{"key":"v","match":{"value":1}}]}}`: {
			Mode: shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY, UpdateFilter: json.RawMessage(`{"must":[{"key":"v","match":{"value":1}}]}`),
		},
		`{"batch":{"ids":[1],"vectors":[[1]]},"update_filter":{}}`: {UpdateFilter: json.RawMessage(`{}`)},
	} {
		got, err := decodeUpsert([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if got.Mode != want.Mode || string(got.UpdateFilter) != string(want.UpdateFilter) || len(got.Points) != 1 {
			t.Errorf("%s: got mode %v filter %s (%d points), want mode %v filter %s", body, got.Mode, got.UpdateFilter, len(got.Points), want.Mode, want.UpdateFilter)
		}
	}
	uv, err := decodeUpdateVectors([]byte(`{"points":[{"id":1,"vector":[1]}],"update_filter":{"must":[]}}`))
	if err != nil || string(uv.UpdateFilter) != `{"must":[]}` || len(uv.Points) != 1 {
		t.Fatalf("update vectors: %+v %v", uv, err)
	}
	_, err = decodeUpdateVectors([]byte(`{"points":[{"id":1,"vector":[1]}],"update_filter":"x"}`))
	checkErr(t, "update_filter string", err, apierr.BadRequest, "update_filter: invalid type: a string")
}

func TestWithPayloadAndWithVector(t *testing.T) {
	f := func(raw string, def bool, want service.PayloadSelector, errWant string) {
		t.Helper()
		got, err := withPayload(json.RawMessage(raw), def)
		if !checkErr(t, raw, err, apierr.BadRequest, errWant) {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("with_payload %s: got %+v, want %+v", raw, got, want)
		}
	}
	f(``, true, service.PayloadSelector{Enabled: true}, "")
	f(`null`, false, service.PayloadSelector{}, "")
	f(`true`, false, service.PayloadSelector{Enabled: true}, "")
	f(`false`, true, service.PayloadSelector{}, "")
	f(`["a","b.c"]`, false, service.PayloadSelector{Enabled: true, Include: []string{"a", "b.c"}}, "")
	f(`{"include":["a"]}`, false, service.PayloadSelector{Enabled: true, Include: []string{"a"}}, "")
	f(`{"include":"a"}`, false, service.PayloadSelector{Enabled: true, Include: []string{"a"}}, "")
	f(`{"exclude":["x"]}`, false, service.PayloadSelector{Enabled: true, Exclude: []string{"x"}}, "")
	f(`{"include":["a"],"exclude":["b"]}`, false, service.PayloadSelector{}, "exactly one of")
	f(`{"only":["a"]}`, false, service.PayloadSelector{}, "unknown field `only`")
	f(`1`, false, service.PayloadSelector{}, "with_payload: expected")
	f(`[1]`, false, service.PayloadSelector{}, "expected a list of strings")

	g := func(raw string, def bool, want service.VectorSelector, errWant string) {
		t.Helper()
		got, err := withVector(json.RawMessage(raw), def)
		if !checkErr(t, raw, err, apierr.BadRequest, errWant) {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("with_vector %s: got %+v, want %+v", raw, got, want)
		}
	}
	g(``, false, service.VectorSelector{}, "")
	g(`true`, false, service.VectorSelector{All: true}, "")
	g(`false`, true, service.VectorSelector{}, "")
	g(`["image"]`, false, service.VectorSelector{Names: []string{"image"}}, "")
	g(`{"a":1}`, false, service.VectorSelector{}, "with_vector: expected a boolean or a list of vector names")
	g(`"image"`, false, service.VectorSelector{}, "with_vector: expected")
}

func TestDecodeRetrieveAndDelete(t *testing.T) {
	f := func(body string, wantIDs string, want service.ReadOptions, errWant string) {
		t.Helper()
		ids, opt, _, err := decodeRetrieve([]byte(body))
		if !checkErr(t, body, err, apierr.BadRequest, errWant) {
			return
		}
		if got := idList(ids); got != wantIDs || !reflect.DeepEqual(opt, want) {
			t.Errorf("%s: got %s %+v, want %s %+v", body, got, opt, wantIDs, want)
		}
	}
	f(`{"ids":[1,"00000000-0000-0000-0000-000000000002"]}`, "1 00000000-0000-0000-0000-000000000002", service.ReadOptions{Payload: service.AllPayload}, "")
	f(`{"ids":[3],"with_payload":false,"with_vector":true}`, "3", service.ReadOptions{Vector: service.VectorSelector{All: true}}, "")
	f(`{"ids":[3],"with_vector":["a"]}`, "3", service.ReadOptions{Payload: service.AllPayload, Vector: service.VectorSelector{Names: []string{"a"}}}, "")
	f(`{"ids":[]}`, "", service.ReadOptions{Payload: service.AllPayload}, "")
	f(`{}`, "", service.ReadOptions{}, "missing field `ids`")
	f(`{"ids":"1"}`, "", service.ReadOptions{}, "expected an array of point ids")
	f(`{"ids":[1],"consistency":"all"}`, "", service.ReadOptions{}, "unknown field `consistency`")

	g := func(body, wantIDs, errWant string) {
		t.Helper()
		sel, err := decodePointsSelector([]byte(body))
		if !checkErr(t, body, err, apierr.BadRequest, errWant) {
			return
		}
		if got := idList(sel.IDs) + string(sel.Filter); got != wantIDs {
			t.Errorf("%s: got %s, want %s", body, got, wantIDs)
		}
	}
	g(`{"points":[1,2]}`, "1 2", "")
	g(`{"points":[1],"filter":null}`, "1", "")
	g(`{"filter":{"must":[{"key":"a","match":{"value":1}}]}}`, `{"must":[{"key":"a","match":{"value":1}}]}`, "")
	g(`{"filter":[1]}`, "", "expected struct Filter")
	g(`{"points":[1],"filter":{}}`, "", "not both")
	g(`{}`, "", "missing field `points` or `filter`")
	g(`{"points":[-5]}`, "", "not a valid point ID")
}

func idList(ids []*shoalv1.PointID) string {
	var s []string
	for _, id := range ids {
		s = append(s, pointid.String(id))
	}
	return strings.Join(s, " ")
}

func f32(v float32) *float32 { return &v }

func TestDecodeSearch(t *testing.T) {
	f := func(body string, want service.SearchRequest, errWant string) {
		t.Helper()
		got, err := decodeSearch([]byte(body))
		if !checkErr(t, body, err, apierr.BadRequest, errWant) {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", body, got, want)
		}
	}
	f(`{"vector":[1,2],"limit":3}`, service.SearchRequest{Vector: vec(1, 2), Limit: 3}, "")
	f(`{"vector":[1,2],"top":3}`, service.SearchRequest{Vector: vec(1, 2), Limit: 3}, "")
	f(`{"vector":{"name":"image","vector":[1]},"limit":1,"offset":2,"score_threshold":0.5,"with_payload":true,"with_vector":["image"],"params":{"exact":true,"hnsw_ef":128}}`,
		service.SearchRequest{Using: "image", Vector: vec(1), Limit: 1, Offset: 2, ScoreThreshold: f32(0.5), Exact: true, HnswEf: 128,
			Read: service.ReadOptions{Payload: service.AllPayload, Vector: service.VectorSelector{Names: []string{"image"}}}}, "")
	f(`{"vector":[1],"limit":1,"filter":null,"shard_key":null,"params":{"indexed_only":false,"quantization":{"rescore":true}}}`, service.SearchRequest{Vector: vec(1), Limit: 1}, "")
	f(`{"vector":[1],"limit":0}`, service.SearchRequest{Vector: vec(1)}, "")

	f(`{"vector":[1]}`, service.SearchRequest{}, "missing field `limit`")
	f(`{"vector":[1],"limit":null}`, service.SearchRequest{}, "limit: invalid type: null")
	f(`{"vector":[1],"limit":2,"top":2}`, service.SearchRequest{}, "duplicate field `limit`")
	f(`{"limit":2}`, service.SearchRequest{}, "missing field `vector`")
	f(`{"vector":[1],"limit":-1}`, service.SearchRequest{}, "limit: invalid value -1")
	f(`{"vector":[1],"limit":1,"offset":"2"}`, service.SearchRequest{}, "offset: invalid value")
	f(`{"vector":[1],"limit":1,"filter":5}`, service.SearchRequest{}, "expected struct Filter")
	f(`{"vector":{"vector":[1]},"limit":1}`, service.SearchRequest{}, "missing field `name`")
	f(`{"vector":{"name":"a"},"limit":1}`, service.SearchRequest{}, "vector: missing field `vector`")
	f(`{"vector":{"name":"a","vector":{"indices":[1],"values":[1]}},"limit":1}`, service.SearchRequest{}, "sparse vectors is not supported yet")
	f(`{"vector":[[1],[2]],"limit":1}`, service.SearchRequest{}, "multivectors")
	f(`{"vector":"x","limit":1}`, service.SearchRequest{}, "vector: expected a vector or a named vector")
	f(`{"vector":[1],"limit":1,"score_threshold":"high"}`, service.SearchRequest{}, "score_threshold: invalid type")
	f(`{"vector":[1],"limit":1,"params":{"exact":"yes"}}`, service.SearchRequest{}, "exact: invalid type")
	f(`{"vector":[1],"limit":1,"params":{"fast":true}}`, service.SearchRequest{}, "unknown field `fast`")
	f(`{"vector":[1],"limit":1,"with_payload":3}`, service.SearchRequest{}, "with_payload: expected")
}

func TestDecodeQuery(t *testing.T) {
	f := func(body string, want service.QueryRequest, errWant string) {
		t.Helper()
		got, err := decodeQuery([]byte(body))
		if !checkErr(t, body, err, apierr.BadRequest, errWant) {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", body, got, want)
		}
	}
	q := func(st service.Stage, offset int, read service.ReadOptions) service.QueryRequest {
		return service.QueryRequest{Stage: st, Offset: offset, Read: read}
	}
	none := service.ReadOptions{}
	f(`{"query":[1,2]}`, q(service.Stage{Query: service.Query{Vector: vec(1, 2)}, Limit: 10}, 0, none), "")
	f(`{"query":{"nearest":[1,2]},"using":"image","limit":3,"offset":1,"with_payload":true,"with_vector":true,"score_threshold":0.1}`,
		q(service.Stage{Using: "image", Query: service.Query{Vector: vec(1, 2)}, Limit: 3, ScoreThreshold: f32(0.1)}, 1,
			service.ReadOptions{Payload: service.AllPayload, Vector: service.VectorSelector{All: true}}), "")
	f(`{"query":42}`, q(service.Stage{Query: service.Query{ByID: pointid.Num(42)}, Limit: 10}, 0, none), "")
	uuidA, _ := pointid.ParseString("00000000-0000-0000-0000-00000000000a")
	f(`{"query":{"nearest":"00000000-0000-0000-0000-00000000000a"}}`, q(service.Stage{Query: service.Query{ByID: uuidA}, Limit: 10}, 0, none), "")
	f(``, q(service.Stage{Limit: 10}, 0, none), "")
	f(`{"query":null,"limit":5}`, q(service.Stage{Limit: 5}, 0, none), "")
	f(`{"query":[1],"params":{"exact":true}}`, q(service.Stage{Query: service.Query{Vector: vec(1)}, Limit: 10, Exact: true}, 0, none), "")
	f(`{"query":{"recommend":{"positive":[1,[1,2]],"negative":[3],"strategy":"best_score"}}}`, q(service.Stage{Query: service.Query{Recommend: &service.Recommend{
		Positive: []service.VectorInput{{ID: pointid.Num(1)}, {Vector: vec(1, 2)}}, Negative: []service.VectorInput{{ID: pointid.Num(3)}}, Strategy: "best_score"}}, Limit: 10}, 0, none), "")
	f(`{"prefetch":[{"query":[1,2],"limit":5,"using":"a"},{"query":7,"filter":{"must":[]},"prefetch":{"query":[3]}}],"query":{"fusion":"rrf"},"limit":3}`,
		q(service.Stage{Query: service.Query{Fusion: &service.Fusion{Kind: "rrf"}}, Limit: 3, Prefetch: []service.Stage{
			{Query: service.Query{Vector: vec(1, 2)}, Limit: 5, Using: "a"},
			{Query: service.Query{ByID: pointid.Num(7)}, Limit: 10, Filter: json.RawMessage(`{"must":[]}`), Prefetch: []service.Stage{{Query: service.Query{Vector: vec(3)}, Limit: 10}}},
		}}, 0, none), "")
	f(`{"prefetch":[{"query":[1]}],"query":{"rrf":{"k":60,"weights":[2]}}}`, q(service.Stage{Query: service.Query{Fusion: &service.Fusion{Kind: "rrf", K: 60, Weights: vec(2)}}, Limit: 10,
		Prefetch: []service.Stage{{Query: service.Query{Vector: vec(1)}, Limit: 10}}}, 0, none), "")
	f(`{"query":{"order_by":{"key":"n","direction":"desc"}}}`, q(service.Stage{Query: service.Query{OrderBy: &service.OrderBy{Key: "n", Descending: true}}, Limit: 10}, 0, none), "")
	f(`{"query":{"sample":"random"},"limit":2}`, q(service.Stage{Query: service.Query{Sample: true}, Limit: 2}, 0, none), "")

	f(`{"query":{"fusion":"max"}}`, service.QueryRequest{}, "unknown variant")
	f(`{"query":{"sample":"first"}}`, service.QueryRequest{}, "unknown variant")
	f(`{"query":{"discover":{"target":1}}}`, service.QueryRequest{}, "missing field `context`")
	f(`{"query":{"discover":{"target":1,"context":{"positive":2,"negative":[1,2]}}}}`, q(service.Stage{Query: service.Query{Discover: &service.Discover{
		Target: &service.VectorInput{ID: pointid.Num(1)}, Context: []service.ContextPair{{Positive: service.VectorInput{ID: pointid.Num(2)}, Negative: service.VectorInput{Vector: vec(1, 2)}}}}}, Limit: 10}, 0, none), "")
	f(`{"query":{"discover":{"target":[1],"context":null}}}`, q(service.Stage{Query: service.Query{Discover: &service.Discover{Target: &service.VectorInput{Vector: vec(1)}}}, Limit: 10}, 0, none), "")
	f(`{"query":{"context":[{"positive":2,"negative":3},{"positive":4,"negative":5}]}}`, q(service.Stage{Query: service.Query{Discover: &service.Discover{Context: []service.ContextPair{
		{Positive: service.VectorInput{ID: pointid.Num(2)}, Negative: service.VectorInput{ID: pointid.Num(3)}},
		{Positive: service.VectorInput{ID: pointid.Num(4)}, Negative: service.VectorInput{ID: pointid.Num(5)}}}}}, Limit: 10}, 0, none), "")
	f(`{"query":{"context":[{"positive":2}]}}`, service.QueryRequest{}, "missing field `negative`")
	f(`{"query":{"context":{"positive":2,"negative":3,"x":1}}}`, service.QueryRequest{}, "unknown field `x`")
	f(`{"query":{"context":7}}`, service.QueryRequest{}, "expected an object")
	f(`{"query":{"formula":{"sum":[]}}}`, service.QueryRequest{}, "query `formula` is not supported yet")
	f(`{"prefetch":[{"offset":1}]}`, service.QueryRequest{}, "unknown field `offset`")
	f(`{"query":{"nearest":[1],"mmr":{"diversity":0.5}}}`, service.QueryRequest{}, "mmr is not supported yet")
	f(`{"query":{"nearest":[1],"other":1}}`, service.QueryRequest{}, "unknown field `other`")
	f(`{"query":{"text":"hi","model":"m"}}`, service.QueryRequest{}, "inference")
	f(`{"query":{"indices":[1],"values":[1]}}`, service.QueryRequest{}, "sparse vectors")
	f(`{"query":[[1],[2]]}`, service.QueryRequest{}, "multivectors")
	f(`{"query":-3}`, service.QueryRequest{}, "not a valid point ID")
	f(`{"query":true}`, service.QueryRequest{}, "query: expected a vector, a point id or a query object")
	f(`{"query":[1],"prefetch":5}`, service.QueryRequest{}, "prefetch")
	f(`{"query":[1],"filter":[]}`, service.QueryRequest{}, "expected struct Filter")
	f(`{"query":[1],"lookup_from":{"collection":"x","vector":"v"}}`, q(service.Stage{Query: service.Query{Vector: vec(1)}, Limit: 10,
		LookupFrom: &service.LookupLocation{Collection: "x", Vector: "v"}}, 0, none), "")
	f(`{"prefetch":{"query":2,"lookup_from":{"collection":"x"}}}`, q(service.Stage{Limit: 10, Prefetch: []service.Stage{{Query: service.Query{ByID: pointid.Num(2)}, Limit: 10,
		LookupFrom: &service.LookupLocation{Collection: "x"}}}}, 0, none), "")
	f(`{"query":[1],"lookup_from":{"vector":"v"}}`, service.QueryRequest{}, "missing field `collection`")
	f(`{"query":[1],"lookup_from":{"collection":"x","shard_key":1.5}}`, service.QueryRequest{}, "shard_key")
	f(`{"query":[1],"lookup_from":"x"}`, service.QueryRequest{}, "expected an object")
	f(`{"query":[1],"using":5}`, service.QueryRequest{}, "using: invalid type")
	f(`{"query":[1],"top":5}`, service.QueryRequest{}, "unknown field `top`")
}

func TestDecodeScrollAndCount(t *testing.T) {
	f := func(body string, want service.ScrollRequest, errWant string) {
		t.Helper()
		got, err := decodeScroll([]byte(body))
		if !checkErr(t, body, err, apierr.BadRequest, errWant) {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", body, got, want)
		}
	}
	f(``, service.ScrollRequest{Limit: 10, Read: service.ReadOptions{Payload: service.AllPayload}}, "")
	f(`{}`, service.ScrollRequest{Limit: 10, Read: service.ReadOptions{Payload: service.AllPayload}}, "")
	f(`{"offset":5,"limit":2,"with_payload":false,"with_vector":true}`, service.ScrollRequest{Offset: pointid.Num(5), Limit: 2, Read: service.ReadOptions{Vector: service.VectorSelector{All: true}}}, "")
	f(`{"offset":null}`, service.ScrollRequest{Limit: 10, Read: service.ReadOptions{Payload: service.AllPayload}}, "")
	f(`{"offset":"x"}`, service.ScrollRequest{}, "unable to parse UUID: x")
	f(`{"filter":{"must":[]}}`, service.ScrollRequest{Limit: 10, Read: service.ReadOptions{Payload: service.AllPayload}, Filter: json.RawMessage(`{"must":[]}`)}, "")
	f(`{"order_by":"price"}`, service.ScrollRequest{Limit: 10, Read: service.ReadOptions{Payload: service.AllPayload}, OrderBy: &service.OrderBy{Key: "price"}}, "")
	ts := 1704067200.0
	f(`{"order_by":{"key":"t","direction":"desc","start_from":"2024-01-01T00:00:00Z"}}`, service.ScrollRequest{Limit: 10, Read: service.ReadOptions{Payload: service.AllPayload}, OrderBy: &service.OrderBy{Key: "t", Descending: true, StartFrom: &ts}}, "")
	f(`{"order_by":{"key":"t","direction":"up"}}`, service.ScrollRequest{}, "unknown variant `up`")
	f(`{"order_by":{"direction":"asc"}}`, service.ScrollRequest{}, "missing field `key`")
	f(`{"limit":1.5}`, service.ScrollRequest{}, "limit: invalid value")

	g := func(body, errWant string) {
		t.Helper()
		_, err := decodeCount([]byte(body))
		checkErr(t, body, err, apierr.BadRequest, errWant)
	}
	g(``, "")
	g(`{"exact":true}`, "")
	g(`{"exact":false,"filter":null}`, "")
	g(`{"exact":1}`, "exact: invalid type")
	g(`{"filter":{"must":[]}}`, "")
	g(`{"filter":"x"}`, "expected struct Filter")
	g(`{"limit":1}`, "unknown field `limit`")
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, err := object([]byte("{\n  \"a\": 1,\n  \"b\": x\n}"), false)
	want := "Format error in JSON body: invalid character 'x' looking for beginning of value at line 3 column 8"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}
