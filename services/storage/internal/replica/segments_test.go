package replica

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	bolt "go.etcd.io/bbolt"
)

// segmentedConfig is a Cosine collection of 32-dim vectors whose
// appendable segment is sealed past 20 KB (160 vectors), with at most two
// sealed segments (so sealing is followed by merges) and full_scan_threshold
// 0, so that every filtered search traverses the graphs.
func segmentedConfig() *shoalv1.CollectionConfig {
	cfg := single(32, shoalv1.Distance_DISTANCE_COSINE)
	cfg.ExtraJson = []byte(`{"hnsw_config":{"m":16,"ef_construct":64,"full_scan_threshold":0},` +
		`"optimizers_config":{"indexing_threshold":20,"default_segment_number":2}}`)
	return cfg
}

// ingest upserts n random points (payload {"b": i % 50, "c": i % 10}) in
// batches and returns their prepared vectors by key.
func ingest(t *testing.T, r *Replica, rng *rand.Rand, n int) map[string][]float32 {
	t.Helper()
	m, _ := distance.For(shoalv1.Distance_DISTANCE_COSINE)
	vecs := map[string][]float32{}
	for start := 0; start < n; start += 250 {
		var pts []*shoalv1.Point
		for i := start; i < min(n, start+250); i++ {
			v := make([]float32, 32)
			for j := range v {
				v[j] = float32(rng.NormFloat64())
			}
			pts = append(pts, point(uint64(i), fmt.Sprintf(`{"b":%d,"c":%d}`, i%50, i%10), map[string][]float32{"": v}))
			vecs[string(pointid.Key(pointid.Num(uint64(i))))] = m.Prepare(v)
		}
		mustApply(t, r, upsertOp(pts...))
	}
	return vecs
}

func randomQuery(rng *rand.Rand) []float32 {
	q := make([]float32, 32)
	for j := range q {
		q[j] = float32(rng.NormFloat64())
	}
	return q
}

// searchKeys runs req and returns the hit keys and scores.
func searchKeys(t *testing.T, r *Replica, req *shoalv1.SearchRequest, mode planMode) ([]string, []float32) {
	t.Helper()
	hits, err := r.search(context.Background(), req, mode)
	if err != nil {
		t.Fatal(err)
	}
	keys, scores := make([]string, len(hits)), make([]float32, len(hits))
	for i, h := range hits {
		keys[i], scores[i] = string(pointid.Key(h.Point.Id)), h.Score
	}
	return keys, scores
}

func recall(got, want []string) (hit int) {
	for _, k := range got {
		if slices.Contains(want, k) {
			hit++
		}
	}
	return hit
}

// TestHNSWSegments: a replica seals, merges and persists HNSW segments;
// approximate search reaches recall 0.95, exact=true is exact, deleted
// points never come back, and a reopened replica loads the sealed graphs
// instead of building them and answers identically.
func TestHNSWSegments(t *testing.T) {
	ctx := context.Background()
	cfg := segmentedConfig()
	r, path := openTest(t, cfg, Options{})
	rng := rand.New(rand.NewPCG(11, 3))
	vecs := ingest(t, r, rng, 3000)
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	var deleted []*shoalv1.PointID
	for i := 0; i < 3000; i += 13 {
		deleted = append(deleted, pointid.Num(uint64(i)))
		delete(vecs, string(pointid.Key(pointid.Num(uint64(i)))))
	}
	mustApply(t, r, deleteOp(deleted...))
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.SegmentStats()[""]
	info, err := r.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("segments: %+v; info %v", st, info)
	if st.Builds == 0 || st.Indexed == 0 || st.Segments < 2 || st.Indexed+st.Plain != len(vecs) {
		t.Fatalf("not sealed: %+v (%d live points)", st, len(vecs))
	}
	if info.Segments != uint32(st.Segments) || info.IndexedVectors != uint64(st.Indexed) || info.Points != uint64(len(vecs)) {
		t.Fatalf("info %v does not report %+v", info, st)
	}

	ref := make([]refPoint, 0, len(vecs))
	for k, v := range vecs {
		ref = append(ref, refPoint{key: k, vectors: map[string][]float32{"": v}})
	}
	all, _ := filter.Parse([]byte(`{}`))
	m, _ := distance.For(shoalv1.Distance_DISTANCE_COSINE)
	queries := make([][]float32, 40)
	for i := range queries {
		queries[i] = randomQuery(rng)
	}
	type answer struct {
		keys   []string
		scores []float32
	}
	run := func(label string, r *Replica) []answer {
		var out []answer
		found, total := 0, 0
		for _, q := range queries {
			want := bruteForce(m, ref, m.Prepare(q), 10, all)
			req := &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: q}, Limit: 10}
			keys, scores := searchKeys(t, r, req, planAuto)
			for _, k := range keys {
				if _, ok := vecs[k]; !ok {
					t.Fatalf("%s: deleted or unknown point %x returned", label, k)
				}
			}
			found, total = found+recall(keys, want), total+len(want)
			out = append(out, answer{keys, scores})

			req.Exact = true
			exact, _ := searchKeys(t, r, req, planAuto)
			if !slices.Equal(exact, want) {
				t.Fatalf("%s: exact search %x, brute force %x", label, exact, want)
			}
		}
		if rc := float64(found) / float64(total); rc < 0.95 {
			t.Fatalf("%s: recall@10 %.3f < 0.95", label, rc)
		} else {
			t.Logf("%s: recall@10 %.3f", label, rc)
		}
		return out
	}
	before := run("before reopen", r)

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path, cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st2 := r2.SegmentStats()[""]
	if st2.Builds != 0 || st2.Loaded != st.Segments-1 || st2.Indexed != st.Indexed || st2.Plain != st.Plain {
		t.Fatalf("reopen rebuilt segments: %+v, before %+v", st2, st)
	}
	if after := run("after reopen", r2); !slices.EqualFunc(after, before, func(a, b answer) bool {
		return slices.Equal(a.keys, b.keys) && slices.Equal(a.scores, b.scores)
	}) {
		t.Fatal("results differ after reopen")
	}
}

// TestFilteredHNSW: filtered searches that traverse sealed graphs return
// only matching points, always min(limit, matches) of them, with recall
// 0.95 against brute force over the matching subset, down to 2 %
// selectivity.
func TestFilteredHNSW(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, segmentedConfig(), Options{})
	rng := rand.New(rand.NewPCG(12, 4))
	ingest(t, r, rng, 3000)
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.SegmentStats()[""]; st.Indexed < 2000 {
		t.Fatalf("not sealed: %+v", st)
	}
	ref := allPoints(t, r)
	byKey := map[string]refPoint{}
	for _, p := range ref {
		byKey[p.key] = p
	}
	m, _ := distance.For(shoalv1.Distance_DISTANCE_COSINE)
	f := func(name, raw string, indexed bool) {
		t.Helper()
		fl, err := filter.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		found, total := 0, 0
		for range 15 {
			q := randomQuery(rng)
			want := bruteForce(m, ref, m.Prepare(q), 10, fl)
			for _, mode := range []planMode{planAuto, planTraverse} {
				keys, _ := searchKeys(t, r, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: q}, Limit: 10, Filter: []byte(raw)}, mode)
				if len(keys) != len(want) {
					t.Fatalf("%s (indexed %v): %d hits, %d match", name, indexed, len(keys), len(want))
				}
				for _, k := range keys {
					if p, ok := byKey[k]; !ok || !fl.Matches(p) {
						t.Fatalf("%s: point %x does not match", name, k)
					}
				}
				found, total = found+recall(keys, want), total+len(want)
			}
		}
		if total == 0 {
			return
		}
		rc := float64(found) / float64(total)
		t.Logf("%s (indexed %v): recall@10 %.3f", name, indexed, rc)
		if rc < 0.95 {
			t.Fatalf("%s (indexed %v): recall@10 %.3f < 0.95", name, indexed, rc)
		}
	}
	for _, indexed := range []bool{false, true} {
		if indexed {
			mustApply(t, r, createIndexOp("b", `"integer"`))
			mustApply(t, r, createIndexOp("c", `"integer"`))
		}
		f("50%", `{"must":{"key":"c","range":{"lt":5}}}`, indexed)
		f("10%", `{"must":{"key":"c","match":{"value":3}}}`, indexed)
		f("2%", `{"must":{"key":"b","match":{"value":7}}}`, indexed)
		f("2 points", `{"must":[{"key":"b","match":{"value":7}},{"has_id":[7,57,1000000]}]}`, indexed)
		f("none", `{"must":{"key":"b","match":{"value":77}}}`, indexed)
	}
}

// TestCorruptSegmentsAreRebuilt: stored segments that do not load are
// discarded and the points indexed again; nothing is lost.
func TestCorruptSegmentsAreRebuilt(t *testing.T) {
	ctx := context.Background()
	cfg := segmentedConfig()
	r, path := openTest(t, cfg, Options{})
	vecs := ingest(t, r, rand.New(rand.NewPCG(13, 5)), 600)
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.SegmentStats()[""]; st.Indexed == 0 {
		t.Fatalf("not sealed: %+v", st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Flip one byte of every stored chunk.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		chunks := tx.Bucket(bucketSegments).Bucket([]byte("v")).Bucket(bucketChunks)
		var keys [][]byte
		_ = chunks.ForEach(func(k, _ []byte) error { keys = append(keys, slices.Clone(k)); return nil })
		for _, k := range keys {
			v := slices.Clone(chunks.Get(k))
			v[len(v)/2] ^= 0xff
			if err := chunks.Put(k, v); err != nil {
				return err
			}
		}
		if len(keys) == 0 {
			return fmt.Errorf("no chunks stored")
		}
		return nil
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path, cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st := r2.SegmentStats()[""]
	if st.Loaded != 0 || st.Builds == 0 || st.Indexed+st.Plain != len(vecs) {
		t.Fatalf("corrupt segments not rebuilt: %+v", st)
	}
}

// TestSealingUnderLoad: writers upsert (new and existing points) and
// delete while searchers search and the optimizer seals and merges; no
// search fails or returns a point twice, and afterwards exact search
// agrees with brute force over the stored points.
func TestSealingUnderLoad(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, segmentedConfig(), Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for n := range 60 {
				var pts []*shoalv1.Point
				for range 20 {
					pts = append(pts, point(uint64(rng.IntN(1500)), `{}`, map[string][]float32{"": randomQuery(rng)}))
				}
				if _, err := r.Apply(ctx, upsertOp(pts...), n%2 == 0); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.Apply(ctx, deleteOp(pointid.Num(uint64(rng.IntN(1500)))), false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var searchers sync.WaitGroup
	for s := range 2 {
		searchers.Add(1)
		go func() {
			defer searchers.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 10))
			for {
				select {
				case <-stop:
					return
				default:
				}
				hits, err := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: randomQuery(rng)}, Limit: 20, Exact: s == 1})
				if err != nil {
					t.Error(err)
					return
				}
				keys := make([]string, len(hits))
				for i, h := range hits {
					keys[i] = pointid.String(h.Point.Id)
				}
				if len(keys) != len(slices.Compact(slices.Sorted(slices.Values(keys)))) {
					t.Errorf("duplicate hits: %v", keys)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	searchers.Wait()
	if err := r.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	ref := allPoints(t, r)
	st := r.SegmentStats()[""]
	if st.Builds == 0 || st.Indexed+st.Plain != len(ref) {
		t.Fatalf("segments %+v, %d points stored", st, len(ref))
	}
	all, _ := filter.Parse([]byte(`{}`))
	m, _ := distance.For(shoalv1.Distance_DISTANCE_COSINE)
	rng := rand.New(rand.NewPCG(99, 1))
	for range 10 {
		q := randomQuery(rng)
		keys, _ := searchKeys(t, r, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: q}, Limit: 10, Exact: true}, planAuto)
		if want := bruteForce(m, ref, m.Prepare(q), 10, all); !slices.Equal(keys, want) {
			t.Fatalf("exact search %x, brute force %x", keys, want)
		}
	}
}
