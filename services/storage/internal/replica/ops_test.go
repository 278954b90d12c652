package replica

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func sel(ids ...uint64) *shoalv1.PointSelector {
	s := &shoalv1.PointSelector{}
	for _, id := range ids {
		s.Ids = append(s.Ids, pointid.Num(id))
	}
	return s
}

func byFilter(f string) *shoalv1.PointSelector { return &shoalv1.PointSelector{Filter: []byte(f)} }

func setPayloadOp(s *shoalv1.PointSelector, payload, key string) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_SetPayload{SetPayload: &shoalv1.SetPayload{Selector: s, Payload: []byte(payload), Key: key}}}
}

func overwritePayloadOp(s *shoalv1.PointSelector, payload, key string) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_OverwritePayload{OverwritePayload: &shoalv1.SetPayload{Selector: s, Payload: []byte(payload), Key: key}}}
}

func deletePayloadOp(s *shoalv1.PointSelector, keys ...string) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_DeletePayload{DeletePayload: &shoalv1.DeletePayload{Selector: s, Keys: keys}}}
}

func clearPayloadOp(s *shoalv1.PointSelector) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_ClearPayload{ClearPayload: s}}
}

func deleteByFilterOp(f string) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_Delete{Delete: &shoalv1.DeletePoints{Filter: []byte(f)}}}
}

func updateVectorsOp(points ...*shoalv1.PointVectors) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_UpdateVectors{UpdateVectors: &shoalv1.UpdateVectors{Points: points}}}
}

func deleteVectorsOp(s *shoalv1.PointSelector, names ...string) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_DeleteVectors{DeleteVectors: &shoalv1.DeleteVectors{Selector: s, Names: names}}}
}

func createIndexOp(field, schema string) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_CreateFieldIndex{CreateFieldIndex: &shoalv1.CreateFieldIndex{Field: field, SchemaJson: []byte(schema)}}}
}

func deleteIndexOp(field string) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_DeleteFieldIndex{DeleteFieldIndex: &shoalv1.DeleteFieldIndex{Field: field}}}
}

func pv(id uint64, vecs map[string][]float32) *shoalv1.PointVectors {
	out := &shoalv1.PointVectors{Id: pointid.Num(id), Vectors: map[string]*shoalv1.Vector{}}
	for n, v := range vecs {
		out.Vectors[n] = &shoalv1.Vector{Data: v}
	}
	return out
}

// payloadOf returns a point's payload as compact JSON ("" when missing).
func payloadOf(t *testing.T, r *Replica, id uint64) string {
	t.Helper()
	got, err := r.Get(context.Background(), []*shoalv1.PointID{pointid.Num(id)}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return "<missing>"
	}
	if got[0].Payload == nil {
		return ""
	}
	var v any
	if err := json.Unmarshal(got[0].Payload, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func named2() *shoalv1.CollectionConfig {
	return &shoalv1.CollectionConfig{Named: true, Vectors: map[string]*shoalv1.VectorParams{
		"a": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT},
		"b": {Size: 3, Distance: shoalv1.Distance_DISTANCE_COSINE},
	}}
}

func TestPayloadOperations(t *testing.T) {
	r, _ := openTest(t, single(2, shoalv1.Distance_DISTANCE_DOT), Options{})
	v := map[string][]float32{"": {1, 0}}
	mustApply(t, r, upsertOp(
		point(1, `{"a":1,"b":{"c":2},"tags":["x","y"]}`, v),
		point(2, `{"a":2,"color":"red"}`, v),
		point(3, ``, v),
	))
	f := func(op *shoalv1.Operation, id uint64, want string) {
		t.Helper()
		mustApply(t, r, op)
		if got := payloadOf(t, r, id); got != want {
			t.Fatalf("point %d payload %s, want %s", id, got, want)
		}
	}
	// set: merge; null removes a key; key merges under a nested path,
	// creating objects on the way.
	f(setPayloadOp(sel(1), `{"a":10,"d":"new"}`, ""), 1, `{"a":10,"b":{"c":2},"d":"new","tags":["x","y"]}`)
	f(setPayloadOp(sel(1), `{"d":null}`, ""), 1, `{"a":10,"b":{"c":2},"tags":["x","y"]}`)
	f(setPayloadOp(sel(1), `{"e":5}`, "b"), 1, `{"a":10,"b":{"c":2,"e":5},"tags":["x","y"]}`)
	f(setPayloadOp(sel(3), `{"z":true}`, "p.q"), 3, `{"p":{"q":{"z":true}}}`)
	// By filter.
	f(setPayloadOp(byFilter(`{"must":{"key":"color","match":{"value":"red"}}}`), `{"hit":1}`, ""), 2, `{"a":2,"color":"red","hit":1}`)
	if got := payloadOf(t, r, 1); got != `{"a":10,"b":{"c":2,"e":5},"tags":["x","y"]}` {
		t.Fatalf("filter touched point 1: %s", got)
	}
	// overwrite, with and without key.
	f(overwritePayloadOp(sel(2), `{"only":1,"n":null}`, ""), 2, `{"n":null,"only":1}`)
	f(overwritePayloadOp(sel(1), `{"new":1}`, "b"), 1, `{"a":10,"b":{"new":1},"tags":["x","y"]}`)
	// delete keys, nested paths included.
	f(deletePayloadOp(sel(1), "b.new", "tags", "missing"), 1, `{"a":10,"b":{}}`)
	f(deletePayloadOp(byFilter(`{"must":{"has_id":[3]}}`), "p.q.z"), 3, `{"p":{"q":{}}}`)
	// clear.
	f(clearPayloadOp(sel(1, 2)), 1, ``)
	if got := payloadOf(t, r, 2); got != `` {
		t.Fatalf("clear left %s", got)
	}
	f(clearPayloadOp(byFilter(`{}`)), 3, ``)
}

// TestRejectedOperations checks that invalid or inapplicable operations
// change nothing: no sequence number, no data, and the error type the
// server maps.
func TestRejectedOperations(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, named2(), Options{})
	mustApply(t, r, upsertOp(point(1, `{"a":1}`, map[string][]float32{"a": {1, 2}, "b": {1, 0, 0}}), point(2, `{"a":2}`, map[string][]float32{"a": {3, 4}})))
	_, seq := r.LastApplied()
	snapshot := func() string {
		got, err := r.Get(ctx, []*shoalv1.PointID{pointid.Num(1), pointid.Num(2), pointid.Num(3)}, true, all)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(got)
		return string(b)
	}
	before := snapshot()
	f := func(op *shoalv1.Operation, invalid, notFound bool) {
		t.Helper()
		_, err := r.Apply(ctx, op, true)
		if err == nil || IsInvalid(err) != invalid || IsNotFound(err) != notFound {
			t.Fatalf("op %v: error %v (invalid %v, not found %v)", op, err, IsInvalid(err), IsNotFound(err))
		}
		if _, s := r.LastApplied(); s != seq {
			t.Fatalf("op %v: seq moved to %d", op, s)
		}
		if after := snapshot(); after != before {
			t.Fatalf("op %v changed data:\n%s\n%s", op, before, after)
		}
	}
	f(setPayloadOp(sel(1, 9), `{"x":1}`, ""), false, true)
	f(setPayloadOp(sel(1), `[1]`, ""), true, false)
	f(setPayloadOp(sel(1), `{"x":1}`, "a..b"), true, false)
	f(setPayloadOp(&shoalv1.PointSelector{}, `{"x":1}`, ""), true, false)
	f(setPayloadOp(byFilter(`{"must":{"key":"a","match":{"value":1.5}}}`), `{"x":1}`, ""), true, false)
	f(overwritePayloadOp(sel(9), `{}`, ""), false, true)
	f(deletePayloadOp(sel(2, 9), "a"), false, true)
	f(deletePayloadOp(sel(1), "a["), true, false)
	f(clearPayloadOp(sel(9)), false, true)
	f(clearPayloadOp(nil), true, false)
	f(updateVectorsOp(pv(1, map[string][]float32{"a": {9, 9}}), pv(9, map[string][]float32{"a": {9, 9}})), false, true)
	f(updateVectorsOp(pv(1, map[string][]float32{"a": {9}})), true, false)
	f(updateVectorsOp(pv(1, map[string][]float32{"zzz": {9, 9}})), true, false)
	f(updateVectorsOp(pv(1, nil)), true, false)
	f(updateVectorsOp(), true, false)
	f(deleteVectorsOp(sel(1), "zzz"), true, false)
	f(deleteVectorsOp(sel(1)), true, false)
	f(deleteVectorsOp(sel(1, 9), "a"), false, true)
	f(deleteByFilterOp(`{"must":[{"key":"a","range":{"gt":"x"}}]}`), true, false)
	f(createIndexOp("a", `"vector"`), true, false)
	f(createIndexOp("a[", `"keyword"`), true, false)
	f(createIndexOp("a", ``), true, false)
	f(deleteIndexOp(""), true, false)
	f(&shoalv1.Operation{}, true, false)

	// A rejected op in a batch does not stop the others.
	seqA, err := r.Apply(ctx, setPayloadOp(sel(1), `{"ok":1}`, ""), true)
	if err != nil || seqA != seq+1 || payloadOf(t, r, 1) != `{"a":1,"ok":1}` {
		t.Fatalf("after rejections: seq %d err %v payload %s", seqA, err, payloadOf(t, r, 1))
	}
}

func TestVectorOperations(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, named2(), Options{})
	mustApply(t, r, upsertOp(
		point(1, `{"k":1}`, map[string][]float32{"a": {1, 0}, "b": {1, 0, 0}}),
		point(2, `{"k":2}`, map[string][]float32{"a": {0, 1}}),
		point(3, `{"k":3}`, map[string][]float32{"b": {0, 0, 1}}),
	))
	vectors := func(id uint64) map[string][]float32 {
		got, err := r.Get(ctx, []*shoalv1.PointID{pointid.Num(id)}, false, all)
		if err != nil || len(got) != 1 {
			t.Fatalf("get %d: %v %v", id, got, err)
		}
		out := map[string][]float32{}
		for n, v := range got[0].Vectors {
			out[n] = v.Data
		}
		return out
	}
	search := func(using string, q []float32, f string) []string {
		res, err := r.Search(ctx, &shoalv1.SearchRequest{Using: using, Vector: &shoalv1.Vector{Data: q}, Limit: 10, Filter: []byte(f)})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range res {
			out = append(out, pointid.String(p.Point.Id))
		}
		return out
	}
	// update_vectors replaces the named vectors given, keeps the others;
	// cosine vectors are normalised.
	mustApply(t, r, updateVectorsOp(pv(2, map[string][]float32{"b": {0, 3, 4}}), pv(1, map[string][]float32{"a": {5, 5}})))
	if v := vectors(2); !slices.Equal(v["a"], []float32{0, 1}) || !slices.Equal(v["b"], []float32{0, 0.6, 0.8}) {
		t.Fatalf("point 2 vectors %v", v)
	}
	if v := vectors(1); !slices.Equal(v["a"], []float32{5, 5}) || !slices.Equal(v["b"], []float32{1, 0, 0}) {
		t.Fatalf("point 1 vectors %v", v)
	}
	if got := search("b", []float32{0, 1, 1}, ""); !slices.Equal(got, []string{"2", "3", "1"}) {
		t.Fatalf("search b after update: %v", got)
	}
	if payloadOf(t, r, 2) != `{"k":2}` {
		t.Fatal("update_vectors touched the payload")
	}
	// delete_vectors by ids and by filter; has_vector sees it.
	mustApply(t, r, deleteVectorsOp(sel(1), "b"))
	if v := vectors(1); len(v) != 1 || v["a"] == nil {
		t.Fatalf("point 1 after delete_vectors: %v", v)
	}
	if got := search("b", []float32{0, 1, 1}, ""); !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("search b after delete: %v", got)
	}
	if got := search("a", []float32{1, 1}, `{"must":{"has_vector":"b"}}`); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("has_vector b: %v", got)
	}
	mustApply(t, r, deleteVectorsOp(byFilter(`{"must":{"key":"k","range":{"gte":2}}}`), "a", "b"))
	if v := vectors(2); len(v) != 0 {
		t.Fatalf("point 2 after delete_vectors by filter: %v", v)
	}
	if n := mustCount(t, r); n != 3 {
		t.Fatalf("count %d: deleting vectors must keep the points", n)
	}
	// delete by filter.
	mustApply(t, r, deleteByFilterOp(`{"must_not":{"has_id":[1]}}`))
	if n := mustCount(t, r); n != 1 || payloadOf(t, r, 1) != `{"k":1}` {
		t.Fatalf("after delete by filter: count %d", n)
	}
	if got := search("a", []float32{1, 1}, ""); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("search after delete by filter: %v", got)
	}
}

func TestFieldIndexesPersistAndReport(t *testing.T) {
	ctx := context.Background()
	r, path := openTest(t, single(2, shoalv1.Distance_DISTANCE_DOT), Options{})
	v := map[string][]float32{"": {1, 0}}
	mustApply(t, r, upsertOp(point(1, `{"city":"Oslo","n":5}`, v), point(2, `{"city":["Rome","Oslo"],"n":"x"}`, v), point(3, `{"n":7.5}`, v)))
	mustApply(t, r, createIndexOp("city", `"keyword"`))
	mustApply(t, r, createIndexOp("n", `{"type":"float","on_disk":false}`))
	mustApply(t, r, createIndexOp("gone", `"bool"`))
	mustApply(t, r, deleteIndexOp("gone"))
	mustApply(t, r, upsertOp(point(4, `{"city":"Oslo","n":1}`, v)))
	want := `{"city":{"data_type":"keyword","points":3},"n":{"data_type":"float","params":{"type":"float","on_disk":false},"points":3}}`
	check := func(r *Replica) {
		t.Helper()
		info, err := r.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Nothing is sealed below indexing_threshold: no indexed vectors
		// and one (appendable) segment, as Qdrant reports.
		if !sameJSON(info.PayloadSchemaJson, []byte(want)) || info.Points != 4 || info.IndexedVectors != 0 || info.Segments != 1 {
			t.Fatalf("info %v, schema %s", info, info.PayloadSchemaJson)
		}
		n, err := r.CountFilter(ctx, []byte(`{"must":{"key":"city","match":{"value":"Oslo"}}}`))
		if err != nil || n != 3 {
			t.Fatalf("count Oslo = %d, %v", n, err)
		}
		resp, err := r.Scroll(ctx, &shoalv1.ScrollRequest{Limit: 10, OrderBy: &shoalv1.OrderBy{Key: "n"}})
		if err != nil || !slices.Equal(ids(resp.Points), []string{"4", "1", "3"}) || !slices.Equal(resp.OrderValues, []float64{1, 5, 7.5}) {
			t.Fatalf("order_by n: %v %v %v", ids(resp.GetPoints()), resp.GetOrderValues(), err)
		}
	}
	check(r)
	r.Close()
	r2, err := Open(path, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	check(r2)
	// Re-creating with the same schema is a no-op; another schema
	// replaces the index.
	mustApply(t, r2, createIndexOp("n", `"integer"`))
	info, _ := r2.Info(ctx)
	if !sameJSON(info.PayloadSchemaJson, []byte(`{"city":{"data_type":"keyword","points":3},"n":{"data_type":"integer","points":2}}`)) {
		t.Fatalf("after replacing the n index: %s", info.PayloadSchemaJson)
	}
	if _, err := r2.Scroll(ctx, &shoalv1.ScrollRequest{Limit: 10, OrderBy: &shoalv1.OrderBy{Key: "city"}}); !IsInvalid(err) || !contains(err.Error(), "No range index for `order_by` key: `city`") {
		t.Fatalf("order_by on a keyword index: %v", err)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}
