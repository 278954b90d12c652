package replica

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func TestUpsertGetDelete(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, single(2, shoalv1.Distance_DISTANCE_DOT), Options{})
	s1 := mustApply(t, r, upsertOp(
		point(1, `{"a":1}`, map[string][]float32{"": {1, 2}}),
		point(2, ``, map[string][]float32{"": {3, 4}}),
		point(3, `{"c":[1,2]}`, map[string][]float32{"": {5, 6}}),
	))
	if s1 != 1 {
		t.Fatalf("first seq = %d", s1)
	}
	got, err := r.Get(ctx, []*shoalv1.PointID{pointid.Num(3), pointid.Num(9), pointid.Num(1), pointid.Num(3)}, true, all)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"3", "1"}) {
		t.Fatalf("get order/dedupe: %v", ids(got))
	}
	if !sameJSON(got[0].Payload, []byte(`{"c":[1,2]}`)) || !slices.Equal(got[1].Vectors[""].Data, []float32{1, 2}) || got[1].Version != 1 {
		t.Fatalf("get content: %v", got)
	}
	bare, _ := r.Get(ctx, []*shoalv1.PointID{pointid.Num(1)}, false, nil)
	if len(bare) != 1 || bare[0].Payload != nil || bare[0].Vectors != nil {
		t.Fatalf("get without payload/vector: %v", bare)
	}

	// Upsert overwrites the whole point: the payload goes away.
	s2 := mustApply(t, r, upsertOp(point(1, ``, map[string][]float32{"": {7, 8}})))
	got, _ = r.Get(ctx, []*shoalv1.PointID{pointid.Num(1)}, true, all)
	if s2 != 2 || got[0].Payload != nil || got[0].Vectors[""].Data[0] != 7 || got[0].Version != 2 {
		t.Fatalf("after overwrite: seq %d point %v", s2, got[0])
	}
	if n := mustCount(t, r); n != 3 {
		t.Fatalf("count = %d", n)
	}
	mustApply(t, r, deleteOp(pointid.Num(2), pointid.Num(42)))
	if n := mustCount(t, r); n != 2 {
		t.Fatalf("count after delete = %d", n)
	}
	got, _ = r.Get(ctx, []*shoalv1.PointID{pointid.Num(2)}, true, all)
	if len(got) != 0 {
		t.Fatalf("deleted point still there: %v", got)
	}
	res, err := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{1, 0}}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || pointid.String(res[0].Point.Id) != "1" || res[0].Score != 7 {
		t.Fatalf("search after delete: %v", res)
	}
	if term, seq := r.LastApplied(); term != 0 || seq != 3 {
		t.Fatalf("last applied = (%d, %d)", term, seq)
	}
	r.SetTerm(4)
	r.SetTerm(2) // ignored: terms never go back
	mustApply(t, r, deleteOp(pointid.Num(3)))
	if term, seq := r.LastApplied(); term != 4 || seq != 4 {
		t.Fatalf("last applied after SetTerm = (%d, %d)", term, seq)
	}
}

func TestScrollOrderAndPages(t *testing.T) {
	r, _ := openTest(t, single(1, shoalv1.Distance_DISTANCE_EUCLID), Options{})
	var want []*shoalv1.PointID
	var points []*shoalv1.Point
	for _, n := range []uint64{300, 2, 1 << 40, 17, 0} {
		want = append(want, pointid.Num(n))
	}
	for _, s := range []string{"f0000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000001", "7b0e4b2c-9d2f-4a8e-8c3c-1d2e3f405162"} {
		want = append(want, pointid.UUID(uuid.MustParse(s)))
	}
	for i, id := range want {
		points = append(points, pointWithID(id, `{"i":1}`, map[string][]float32{"": {float32(i)}}))
	}
	mustApply(t, r, upsertOp(points...))
	slices.SortFunc(want, pointid.Compare)
	wantIDs := make([]string, len(want))
	for i, id := range want {
		wantIDs[i] = pointid.String(id)
	}
	if wantIDs[0] != "0" || wantIDs[4] != "1099511627776" || wantIDs[5] != "00000000-0000-4000-8000-000000000001" {
		t.Fatalf("reference order is wrong: %v", wantIDs)
	}

	f := func(limit uint32) {
		t.Helper()
		var gotIDs []string
		var offset *shoalv1.PointID
		for pages := 0; ; pages++ {
			page, next, err := scroll(t, r, &shoalv1.ScrollRequest{Offset: offset, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if uint32(len(page)) > limit || pages > len(want) {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			gotIDs = append(gotIDs, ids(page)...)
			if next == nil {
				break
			}
			offset = next
		}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Fatalf("limit %d: scrolled %v, want %v", limit, gotIDs, wantIDs)
		}
	}
	f(1)
	f(3)
	f(8)
	f(100)

	// The offset is inclusive and need not exist.
	page, next, err := scroll(t, r, &shoalv1.ScrollRequest{Offset: pointid.Num(3), Limit: 2, WithPayload: true, WithVector: all})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(page), []string{"17", "300"}) || pointid.String(next) != "1099511627776" || page[0].Payload == nil || page[0].Vectors == nil {
		t.Fatalf("scroll from 3: %v next %v", page, next)
	}
}

func TestNamedVectors(t *testing.T) {
	ctx := context.Background()
	cfg := &shoalv1.CollectionConfig{Named: true, Vectors: map[string]*shoalv1.VectorParams{
		"img": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT},
		"txt": {Size: 3, Distance: shoalv1.Distance_DISTANCE_COSINE},
	}}
	r, _ := openTest(t, cfg, Options{})
	mustApply(t, r, upsertOp(
		point(1, ``, map[string][]float32{"img": {1, 0}, "txt": {0, 3, 4}}),
		point(2, ``, map[string][]float32{"img": {2, 0}}),
		point(3, ``, map[string][]float32{"txt": {1, 0, 0}}),
		point(4, ``, nil),
	))
	search := func(using string, q []float32) []string {
		t.Helper()
		res, err := r.Search(ctx, &shoalv1.SearchRequest{Using: using, Vector: &shoalv1.Vector{Data: q}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sp := range res {
			out = append(out, pointid.String(sp.Point.Id))
		}
		return out
	}
	if got := search("img", []float32{1, 0}); !slices.Equal(got, []string{"2", "1"}) {
		t.Fatalf("img search = %v", got)
	}
	if got := search("txt", []float32{0, 1, 0}); !slices.Equal(got, []string{"1", "3"}) {
		t.Fatalf("txt search = %v", got)
	}
	// Cosine vectors are stored and returned normalised; with_vector picks names.
	got, err := r.Get(ctx, []*shoalv1.PointID{pointid.Num(1)}, false, &shoalv1.WithVector{Names: []string{"txt"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0].Vectors) != 1 || !slices.Equal(got[0].Vectors["txt"].Data, []float32{0, 0.6, 0.8}) {
		t.Fatalf("named get = %v", got[0].Vectors)
	}
	// Overwriting point 1 without txt removes it from the txt index.
	mustApply(t, r, upsertOp(point(1, ``, map[string][]float32{"img": {0, 1}})))
	if got := search("txt", []float32{0, 1, 0}); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("txt search after overwrite = %v", got)
	}
	if n := mustCount(t, r); n != 4 {
		t.Fatalf("count = %d", n)
	}
	for _, bad := range []string{"", "nope"} {
		if _, err := r.Search(ctx, &shoalv1.SearchRequest{Using: bad, Vector: &shoalv1.Vector{Data: []float32{1, 0}}, Limit: 1}); !IsInvalid(err) {
			t.Fatalf("search using %q: %v", bad, err)
		}
	}
	if _, err := r.Get(ctx, []*shoalv1.PointID{pointid.Num(1)}, false, &shoalv1.WithVector{Names: []string{"nope"}}); !IsInvalid(err) {
		t.Fatalf("get with unknown vector name: %v", err)
	}
}

func TestInvalidOpsAreNotApplied(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, single(2, shoalv1.Distance_DISTANCE_COSINE), Options{})
	good := point(1, `{"ok":true}`, map[string][]float32{"": {1, 1}})
	nan := float32(0)
	nan /= nan
	f := func(name string, bad *shoalv1.Point) {
		t.Helper()
		op := upsertOp(good, bad)
		if bad == nil {
			op = &shoalv1.Operation{}
		}
		_, err := r.Apply(ctx, op, true)
		if !IsInvalid(err) {
			t.Fatalf("%s: got %v, want a validation error", name, err)
		}
		if n := mustCount(t, r); n != 0 {
			t.Fatalf("%s: partially applied, count %d", name, n)
		}
		if _, seq := r.LastApplied(); seq != 0 {
			t.Fatalf("%s: logged as seq %d", name, seq)
		}
	}
	f("wrong size", point(2, ``, map[string][]float32{"": {1, 2, 3}}))
	f("NaN", point(2, ``, map[string][]float32{"": {nan, 1}}))
	f("unknown vector name", point(2, ``, map[string][]float32{"x": {1, 1}}))
	f("missing vector", point(2, ``, nil))
	f("payload not an object", point(2, `[1]`, map[string][]float32{"": {1, 1}}))
	f("payload not JSON", point(2, `{"a":`, map[string][]float32{"": {1, 1}}))
	f("missing id", &shoalv1.Point{Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{1, 1}}}})
	f("bad uuid", pointWithID(&shoalv1.PointID{Kind: &shoalv1.PointID_Uuid{Uuid: "not-a-uuid"}}, ``, map[string][]float32{"": {1, 1}}))
	f("empty operation", nil)
	if _, err := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{nan, 1}}, Limit: 1}); !IsInvalid(err) {
		t.Fatalf("NaN query: %v", err)
	}
	if _, err := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{1}}, Limit: 1}); !IsInvalid(err) {
		t.Fatalf("short query: %v", err)
	}
	// The caller's op is never modified (Cosine normalises a copy).
	mustApply(t, r, upsertOp(good))
	if good.Vectors[""].Data[0] != 1 {
		t.Fatalf("Apply modified the caller's vector: %v", good.Vectors[""].Data)
	}
}
