package hnsw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// TestDeletesNeverReturned tombstones a third of the points (and
// re-adds some keys with new vectors): no deleted node is ever returned,
// recall over the live points holds, and Len/Vector agree.
func TestDeletesNeverReturned(t *testing.T) {
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_EUCLID, 3000, 16, 21)
	g := build(t, Config{}, ds, 0)
	deleted := map[string]bool{}
	for i, k := range ds.keys {
		if i%3 == 0 {
			if !g.Delete(k) {
				t.Fatalf("Delete(%s) = false", k)
			}
			deleted[k] = true
		}
	}
	if g.Delete(ds.keys[0]) {
		t.Fatal("second Delete reported a live key")
	}
	// Re-adding moves a key to a new node; the old one is a tombstone.
	r := rand.New(rand.NewPCG(1, 1))
	moved := map[string][]float32{}
	for i := 1; i < 300; i += 3 {
		v := ds.sample(r)
		g.Upsert(ds.keys[i], v)
		moved[ds.keys[i]] = v
	}
	if want := 3000 - len(deleted); g.Len() != want {
		t.Fatalf("Len = %d, want %d", g.Len(), want)
	}
	if g.Deleted() != len(deleted)+len(moved) {
		t.Fatalf("Deleted = %d, want %d", g.Deleted(), len(deleted)+len(moved))
	}
	ref := index.NewFlat(ds.metric, ds.dim)
	for i, k := range ds.keys {
		if deleted[k] {
			if _, ok := g.Vector(k); ok {
				t.Fatalf("Vector(%s) of a deleted key", k)
			}
			continue
		}
		v := ds.vec(i)
		if mv, ok := moved[k]; ok {
			v = mv
		}
		got, ok := g.Vector(k)
		if !ok || !slices.Equal(got, v) {
			t.Fatalf("Vector(%s) wrong", k)
		}
		ref.Upsert(k, v)
	}
	for i := range 100 {
		q := ds.query(r)
		for _, p := range []index.SearchParams{{Ef: 32}, {Exact: true}} {
			hits := g.Search(q, 20, p)
			for _, h := range hits {
				if deleted[h.Key] {
					t.Fatalf("query %d: deleted %s returned", i, h.Key)
				}
				if mv, ok := moved[h.Key]; ok && h.Score != ds.metric.Score(q, mv) {
					t.Fatalf("query %d: %s scored against its old vector", i, h.Key)
				}
			}
			if p.Exact && !slices.Equal(hits, ref.Search(q, 20, index.SearchParams{})) {
				t.Fatalf("query %d: exact search differs from Flat", i)
			}
		}
	}
	if rc := meanRecall(ds, g, ref, 100, 10, index.SearchParams{Ef: 64}, 5); rc < 0.95 {
		t.Fatalf("recall over live points %.3f", rc)
	}
}

// TestFilteredSearch: Accept is honoured, and a search still finds k
// results when at least k points are accepted, however selective.
func TestFilteredSearch(t *testing.T) {
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_COSINE, 4000, 24, 31)
	g := build(t, Config{}, ds, 0)
	r := rand.New(rand.NewPCG(9, 9))
	f := func(name string, accept func(key string) bool, minRecall float64) {
		t.Helper()
		n := 0
		for _, k := range ds.keys {
			if accept(k) {
				n++
			}
		}
		ref := ds.flat(func(i int) bool { return accept(ds.keys[i]) })
		var sum float64
		for range 50 {
			q := ds.query(r)
			got := g.Search(q, 10, index.SearchParams{Ef: 64, Accept: accept})
			if len(got) != min(10, n) {
				t.Fatalf("%s: %d hits with %d accepted points", name, len(got), n)
			}
			for _, h := range got {
				if !accept(h.Key) {
					t.Fatalf("%s: rejected %s returned", name, h.Key)
				}
			}
			sum += recall(got, ref.Search(q, 10, index.SearchParams{}))
		}
		if rc := sum / 50; rc < minRecall {
			t.Fatalf("%s: recall %.3f < %.2f", name, rc, minRecall)
		}
	}
	f("half", func(k string) bool { return k[len(k)-1]%2 == 0 }, 0.95)
	f("10%", func(k string) bool { return k[len(k)-1] == '7' }, 0.95)
	f("1%", func(k string) bool { return strings.HasSuffix(k, "42") }, 0.95)
	f("three points", func(k string) bool { return k == "p00001" || k == "p02000" || k == "p03999" }, 1)
	f("none", func(string) bool { return false }, 1)
}

// TestThresholdAndTies: score_threshold cuts the tail and equal scores
// come out ordered by key, as in Flat.
func TestThresholdAndTies(t *testing.T) {
	f := func(d shoalv1.Distance) {
		t.Helper()
		ds := makeDataset(t, d, 600, 8, 41)
		// Duplicate vectors under other keys make exact ties.
		for i := range 200 {
			ds.keys = append(ds.keys, fmt.Sprintf("dup%03d", i))
			ds.vecs = append(ds.vecs, ds.vec(i)...)
		}
		g := build(t, Config{M: 8, EfConstruct: 50}, ds, 0)
		ref := ds.flat(nil)
		r := rand.New(rand.NewPCG(4, 4))
		for range 30 {
			q := ds.query(r)
			exact := ref.Search(q, 30, index.SearchParams{})
			th := exact[15].Score
			got := g.Search(q, 30, index.SearchParams{Ef: 400, Threshold: &th})
			want := ref.Search(q, 30, index.SearchParams{Threshold: &th})
			if !slices.Equal(got, want) {
				t.Fatalf("%v: with threshold\n got %v\nwant %v", d, got, want)
			}
		}
	}
	// Dot is left out: with unnormalised vectors the inner product is not
	// a metric, and a point whose vector has a small norm is nobody's
	// near neighbour, so it can be unreachable (as in any HNSW).
	f(shoalv1.Distance_DISTANCE_EUCLID)
	f(shoalv1.Distance_DISTANCE_COSINE)
	f(shoalv1.Distance_DISTANCE_MANHATTAN)
}

// TestIncrementalAndSmall: a graph grown one Upsert at a time from empty
// (through its capacity several times) keeps recall, and tiny graphs are
// searched exactly.
func TestIncrementalAndSmall(t *testing.T) {
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_EUCLID, 2000, 16, 51)
	g, err := New(Config{}, ds.metric, ds.dim, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 2))
	if hits := g.Search(ds.query(r), 5, index.SearchParams{}); len(hits) != 0 {
		t.Fatalf("empty graph returned %v", hits)
	}
	for i, k := range ds.keys {
		g.Upsert(k, ds.vec(i))
		if i == 49 {
			small := ds.flat(func(j int) bool { return j < 50 })
			q := ds.query(r)
			if got, want := g.Search(q, 10, index.SearchParams{}), small.Search(q, 10, index.SearchParams{}); !slices.Equal(got, want) {
				t.Fatalf("small graph not exact:\n got %v\nwant %v", got, want)
			}
		}
	}
	if rc := meanRecall(ds, g, ds.flat(nil), 100, 10, index.SearchParams{Ef: 64}, 6); rc < 0.95 {
		t.Fatalf("incremental recall %.3f", rc)
	}
}

// TestMarshalRoundTrip: a graph with tombstones survives Marshal and
// Unmarshal with identical search results; corrupt encodings are errors.
func TestMarshalRoundTrip(t *testing.T) {
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_MANHATTAN, 2000, 12, 61)
	g := build(t, Config{M: 10, EfConstruct: 40}, ds, 0)
	for i := 0; i < 2000; i += 7 {
		g.Delete(ds.keys[i])
	}
	blob := g.Marshal()
	h, err := Unmarshal(blob)
	if err != nil {
		t.Fatal(err)
	}
	if h.Len() != g.Len() || h.Deleted() != g.Deleted() || h.Config() != g.Config() || h.Metric().Kind() != g.Metric().Kind() {
		t.Fatalf("restored graph differs: len %d/%d deleted %d/%d", h.Len(), g.Len(), h.Deleted(), g.Deleted())
	}
	if !bytes.Equal(h.Marshal(), blob) {
		t.Fatal("re-encoding differs")
	}
	r := rand.New(rand.NewPCG(3, 3))
	for range 50 {
		q := ds.query(r)
		p := index.SearchParams{Ef: 20, Accept: func(k string) bool { return k[len(k)-1] != '3' }}
		if got, want := h.Search(q, 10, p), g.Search(q, 10, p); !slices.Equal(got, want) {
			t.Fatalf("restored search differs:\n got %v\nwant %v", got, want)
		}
	}
	// The restored graph stays writable.
	h.Upsert("new", ds.vec(1))
	if v, ok := h.Vector("new"); !ok || !slices.Equal(v, ds.vec(1)) {
		t.Fatal("Upsert after Unmarshal lost")
	}

	empty, _ := New(Config{}, ds.metric, 3, 0)
	if e, err := Unmarshal(empty.Marshal()); err != nil || e.Len() != 0 {
		t.Fatalf("empty round trip: %v", err)
	}
	bad := func(name string, b []byte) {
		t.Helper()
		if _, err := Unmarshal(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
	bad("empty", nil)
	bad("truncated", blob[:len(blob)/2])
	flipped := slices.Clone(blob)
	flipped[len(flipped)/3] ^= 1
	bad("bit flip", flipped)
	bad("trailing", append(slices.Clone(blob[:len(blob)-4]), 0, 0, 0, 0, 0))
}

// TestConcurrentBuildAndSearch inserts from several goroutines while
// others search and delete; run under -race it checks the locking, and
// the final graph must still have recall.
func TestConcurrentBuildAndSearch(t *testing.T) {
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_EUCLID, 1500, 8, 71)
	g, err := New(Config{M: 8, EfConstruct: 40}, ds.metric, ds.dim, 100) // grows while in use
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	const writers = 4
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ds.keys); i += writers {
				g.Upsert(ds.keys[i], ds.vec(i))
				if i%10 == 5 {
					g.Delete(ds.keys[i])
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r := rand.New(rand.NewPCG(8, 8))
			for ctx.Err() == nil {
				for _, h := range g.Search(ds.query(r), 5, index.SearchParams{Ef: 16}) {
					if h.Key == "" {
						panic("empty key returned")
					}
				}
				g.Vector(ds.keys[r.IntN(len(ds.keys))])
			}
		}()
	}
	wg.Wait()
	cancel()
	readers.Wait()
	live := func(i int) bool { return i%10 != 5 }
	if g.Len() != len(ds.keys)-len(ds.keys)/10 {
		t.Fatalf("Len = %d", g.Len())
	}
	if rc := meanRecall(ds, g, ds.flat(live), 100, 10, index.SearchParams{Ef: 64}, 7); rc < 0.95 {
		t.Fatalf("recall after concurrent build %.3f", rc)
	}
	// Build itself with many workers, and cancelled.
	g2 := build(t, Config{M: 8, EfConstruct: 40}, ds, 8)
	if rc := meanRecall(ds, g2, ds.flat(nil), 100, 10, index.SearchParams{Ef: 64}, 7); rc < 0.95 {
		t.Fatalf("recall of an 8-worker build %.3f", rc)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := Build(cctx, Config{}, ds.metric, ds.dim, ds.keys, Slab(ds.vecs, ds.dim), 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled build: %v", err)
	}
}

// reachable counts the nodes reachable from the entry point on layer 0.
func reachable(g *Graph) int {
	seen := make([]bool, g.Nodes())
	stack := []uint32{uint32(g.entry.Load())}
	seen[stack[0]] = true
	n := 1
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		l := g.list(x, 0)
		for _, y := range l[1 : 1+l[0]] {
			if !seen[y] {
				seen[y] = true
				n++
				stack = append(stack, y)
			}
		}
	}
	return n
}

// TestParallelBuildConnected: every node of a parallel build is reachable
// on layer 0, with more workers than cores so that inserts are preempted
// midway. (Nodes used to become reachable before their lower lists were
// written; inserts descending through them then linked only to them and
// lost that edge to pruning, leaving about 1% of the nodes unreachable.)
// Duplicated vectors make the heuristic prune hard.
func TestParallelBuildConnected(t *testing.T) {
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_COSINE, 600, 8, 41)
	for i := range 200 {
		ds.keys = append(ds.keys, fmt.Sprintf("dup%03d", i))
		ds.vecs = append(ds.vecs, ds.vec(i)...)
	}
	for _, workers := range []int{2, 4, 8} {
		for range 3 {
			g := build(t, Config{M: 8, EfConstruct: 50}, ds, workers)
			if n := reachable(g); n != g.Nodes() {
				t.Fatalf("workers %d: %d of %d nodes reachable", workers, n, g.Nodes())
			}
		}
	}
}

// TestBuildInput rejects bad input.
func TestBuildInput(t *testing.T) {
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_EUCLID, 10, 4, 1)
	f := func(name string, cfg Config, keys []string, vecs []float32) {
		t.Helper()
		vec := func(i int) []float32 { return vecs[i*ds.dim : min(len(vecs), (i+1)*ds.dim)] }
		if _, err := Build(context.Background(), cfg, ds.metric, ds.dim, keys, vec, 1); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
	f("short vectors", Config{}, ds.keys, ds.vecs[:len(ds.vecs)-1])
	dup := slices.Clone(ds.keys)
	dup[3] = dup[4]
	f("duplicate key", Config{}, dup, ds.vecs)
	f("m too small", Config{M: 1}, ds.keys, ds.vecs)
	f("ef_construct too small", Config{EfConstruct: 2}, ds.keys, ds.vecs)
	if _, err := New(Config{}, ds.metric, 0, 1); err == nil {
		t.Fatal("dimension 0 accepted")
	}
}
