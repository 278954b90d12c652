package replica

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

// TestFilteredSearchThroughGroupLinks: with an integer index on "c"
// created before ingest, sealing links each value's points (kept across a
// reopen without building again); a filter on one value, asked twice,
// is answered through the value's links with only matching points and
// recall ≥ 0.95; payload changes, an upsert that keeps the vector but
// changes the value, and deletes are seen by the next search (the cached
// matches are not reused stale).
func TestFilteredSearchThroughGroupLinks(t *testing.T) {
	ctx := context.Background()
	cfg := single(32, shoalv1.Distance_DISTANCE_COSINE)
	// full_scan_threshold 2 KB = 16 points: filters on c (300 points each)
	// traverse the graphs.
	cfg.ExtraJson = []byte(`{"hnsw_config":{"m":16,"ef_construct":64,"full_scan_threshold":2},` +
		`"optimizers_config":{"indexing_threshold":20,"default_segment_number":1}}`)
	r, path := openTest(t, cfg, Options{})
	mustApply(t, r, createIndexOp("c", `"integer"`))
	rng := rand.New(rand.NewPCG(21, 4))
	vecs := ingest(t, r, rng, 3000)
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.SegmentStats()[""]
	if st.Indexed != 3000 || st.GroupLinked != 3000 {
		t.Fatalf("segments %+v: want 3000 points indexed and linked", st)
	}
	points := map[string]int{} // key -> value of c
	for i := range 3000 {
		points[string(pointid.Key(pointid.Num(uint64(i))))] = i % 10
	}
	metric, _ := distance.For(shoalv1.Distance_DISTANCE_COSINE)
	exact := func(q []float32, value, k int) []string {
		var keys []string
		for key, v := range points {
			if v == value {
				keys = append(keys, key)
			}
		}
		slices.SortFunc(keys, func(a, b string) int {
			sa, sb := metric.Score(q, vecs[a]), metric.Score(q, vecs[b])
			switch {
			case sa > sb:
				return -1
			case sa < sb:
				return 1
			}
			return 0
		})
		return keys[:min(k, len(keys))]
	}
	search := func(q []float32, value int) []string {
		t.Helper()
		req := &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: q}, Limit: 10, HnswEf: 32,
			Filter: []byte(fmt.Sprintf(`{"must":[{"key":"c","match":{"value":%d}}]}`, value))}
		keys, _ := searchKeys(t, r, req, planAuto)
		for _, k := range keys {
			if points[k] != value {
				t.Fatalf("c=%d: hit %x holds c=%d", value, k, points[k])
			}
		}
		return keys
	}
	checkRecall := func() {
		t.Helper()
		hits, total := 0, 0
		for i := range 40 {
			q := randomQuery(rng)
			for range 2 { // the second search uses the cached matches
				got := search(q, i%10)
				hits += recall(got, exact(metric.Prepare(q), i%10, 10))
				total += 10
			}
		}
		if rc := float64(hits) / float64(total); rc < 0.95 {
			t.Fatalf("recall %.3f", rc)
		}
	}
	checkRecall()
	if st := r.SegmentStats()[""]; st.GroupSearches == 0 {
		t.Fatalf("no search went through group links: %+v", st)
	}
	first := func(q []float32, value int) string {
		keys := search(q, value)
		search(q, value) // and again, through the cache
		keys2 := search(q, value)
		if len(keys) == 0 || len(keys2) == 0 || keys[0] != keys2[0] {
			t.Fatalf("c=%d: %x then %x", value, keys, keys2)
		}
		return keys[0]
	}
	// Moved by set_payload: found under its new value, never its old one.
	moved := string(pointid.Key(pointid.Num(13))) // c = 3
	for _, v := range []int{3, 4} {
		first(vecs[moved], v) // cache both filters
	}
	mustApply(t, r, setPayloadOp(sel(13), `{"c":4}`, ""))
	points[moved] = 4
	if got := first(vecs[moved], 4); got != moved {
		t.Fatalf("moved point not first under its new value: %x", got)
	}
	if slices.Contains(search(vecs[moved], 3), moved) {
		t.Fatal("moved point still found under its old value")
	}
	// Upserted with the same vector and a new value: stays in its sealed
	// segment, found under the new value.
	kept := string(pointid.Key(pointid.Num(25))) // c = 5
	first(vecs[kept], 5)
	mustApply(t, r, upsertOp(point(25, `{"c":3}`, map[string][]float32{"": vecs[kept]})))
	points[kept] = 3
	if got := first(vecs[kept], 3); got != kept {
		t.Fatalf("re-upserted point not first under its new value: %x", got)
	}
	// Deleted: never returned.
	gone := string(pointid.Key(pointid.Num(33)))
	first(vecs[gone], 3)
	mustApply(t, r, deleteOp(pointid.Num(33)))
	delete(points, gone)
	if slices.Contains(search(vecs[gone], 3), gone) {
		t.Fatal("deleted point returned")
	}
	checkRecall()

	// A reopened replica loads the links with its segments.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := OpenWithOptions(path, cfg, r.log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if st := r2.SegmentStats()[""]; st.Builds != 0 || st.GroupLinked == 0 {
		t.Fatalf("after reopen: %+v", st)
	}
	r = r2
	checkRecall()
}

// TestGrouperChunks: reading the payload indexes a chunk at a time gives
// the groups of one read.
func TestGrouperChunks(t *testing.T) {
	r, _ := openTest(t, single(2, shoalv1.Distance_DISTANCE_DOT), Options{})
	mustApply(t, r, createIndexOp("c", `"integer"`))
	mustApply(t, r, createIndexOp("s", `"keyword"`))
	var pts []*shoalv1.Point
	var keys []string
	for i := range 100 {
		pts = append(pts, point(uint64(i), fmt.Sprintf(`{"c":%d,"s":%q}`, i%7, []string{"a", "b"}[i%2]), map[string][]float32{"": {1, 2}}))
		keys = append(keys, string(pointid.Key(pointid.Num(uint64(i)))))
	}
	mustApply(t, r, upsertOp(pts...))
	want := r.payload.Groups(keys, 15)
	got := grouper{r: r, minSize: 15, chunk: 7}.Groups(keys)
	if len(want) != 2 || len(want["c"]) != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("chunked %v\n  whole %v", got, want)
	}
}

// TestIndexAfterUploadRelinks: a field indexed after its points were
// sealed gets links once the optimizer rebuilds the segments (Qdrant's
// config_mismatch optimizer), and filtered searches then walk them;
// dropping the index drops the links, and fields without a value common
// enough to link trigger no rebuild.
func TestIndexAfterUploadRelinks(t *testing.T) {
	ctx := context.Background()
	cfg := single(32, shoalv1.Distance_DISTANCE_COSINE)
	cfg.ExtraJson = []byte(`{"hnsw_config":{"m":16,"ef_construct":64,"full_scan_threshold":2},` +
		`"optimizers_config":{"indexing_threshold":20,"default_segment_number":1}}`)
	r, _ := openTest(t, cfg, Options{})
	rng := rand.New(rand.NewPCG(3, 9))
	ingest(t, r, rng, 2000)
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.SegmentStats()[""]
	if st.GroupLinked != 0 || st.Indexed != 2000 {
		t.Fatalf("before the index: %+v", st)
	}
	builds := st.Builds
	// An index on a field no point holds has nothing to link.
	mustApply(t, r, createIndexOp("missing", `"keyword"`))
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.SegmentStats()[""]; st.Builds != builds {
		t.Fatalf("an index without common values rebuilt segments: %+v", st)
	}
	mustApply(t, r, createIndexOp("c", `"integer"`))
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st = r.SegmentStats()[""]
	if st.GroupLinked != 2000 || st.Builds == builds {
		t.Fatalf("after indexing c: %+v", st)
	}
	relinked := false
	for _, op := range st.Progress.Completed {
		relinked = relinked || op.Optimizer == "config_mismatch"
	}
	if !relinked {
		t.Fatalf("no config_mismatch optimization in %+v", st.Progress.Completed)
	}
	for i := range 4 {
		req := &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: randomQuery(rng)}, Limit: 5, HnswEf: 32,
			Filter: []byte(fmt.Sprintf(`{"must":[{"key":"c","match":{"value":%d}}]}`, i%2))}
		for range 2 {
			if keys, _ := searchKeys(t, r, req, planAuto); len(keys) != 5 {
				t.Fatalf("%d hits", len(keys))
			}
		}
	}
	if st := r.SegmentStats()[""]; st.GroupSearches == 0 {
		t.Fatalf("no search through the new links: %+v", st)
	}
	builds = st.Builds
	mustApply(t, r, deleteIndexOp("c"))
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.SegmentStats()[""]; st.GroupLinked != 0 || st.Builds != builds {
		t.Fatalf("after dropping the index: %+v", st)
	}
}
