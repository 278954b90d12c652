package segment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

const dim = 16

// testConfig seals every ~kb kilobytes (1 kB = 16 vectors of dim 16).
func testConfig(t testing.TB, kb int) Config {
	t.Helper()
	m, err := distance.For(shoalv1.Distance_DISTANCE_EUCLID)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(m, dim)
	cfg.HNSW = hnsw.Config{M: 8, EfConstruct: 40}
	cfg.IndexingThresholdKB = kb
	cfg.VacuumMinVectors = 50
	cfg.MaxSegments = 3
	return cfg
}

// world is a Set and the exact reference it must agree with.
type world struct {
	t     testing.TB
	set   *Set
	store *MemStore
	ref   map[string][]float32
	r     *rand.Rand
}

func newWorld(t testing.TB, cfg Config, seed uint64) *world {
	t.Helper()
	store := NewMemStore()
	set, l, err := Open(cfg, store, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	l.Finish()
	t.Cleanup(set.Close)
	return &world{t: t, set: set, store: store, ref: map[string][]float32{}, r: rand.New(rand.NewPCG(seed, 1))}
}

func (w *world) vec() []float32 {
	v := make([]float32, dim)
	c := float32(w.r.IntN(8)) // a few clusters
	for i := range v {
		v[i] = c + float32(w.r.NormFloat64())
	}
	return v
}

func (w *world) upsert(key string) {
	v := w.vec()
	w.set.Upsert(key, v)
	w.ref[key] = v
}

func (w *world) delete(key string) {
	_, had := w.ref[key]
	if got := w.set.Delete(key); got != had {
		w.t.Fatalf("Delete(%s) = %v, want %v", key, got, had)
	}
	delete(w.ref, key)
}

func (w *world) flat() *index.Flat {
	f := index.NewFlat(w.set.Metric(), dim)
	for k, v := range w.ref {
		f.Upsert(k, v)
	}
	return f
}

// check compares the Set with the reference: Len, every Vector, exact
// search equal to Flat's, approximate search with recall@10 >= 0.95.
func (w *world) check(what string) {
	w.t.Helper()
	if w.set.Len() != len(w.ref) {
		w.t.Fatalf("%s: Len = %d, want %d", what, w.set.Len(), len(w.ref))
	}
	for k, v := range w.ref {
		if got, ok := w.set.Vector(k); !ok || !slices.Equal(got, v) {
			w.t.Fatalf("%s: Vector(%s) wrong", what, k)
		}
	}
	f := w.flat()
	var found, total int
	for range 30 {
		q := w.vec()
		want := f.Search(q, 10, index.SearchParams{})
		if got := w.set.Search(q, 10, index.SearchParams{Exact: true}); !slices.Equal(got, want) {
			w.t.Fatalf("%s: exact search\n got %v\nwant %v", what, got, want)
		}
		in := map[string]bool{}
		for _, h := range w.set.Search(q, 10, index.SearchParams{Ef: 64}) {
			if _, live := w.ref[h.Key]; !live {
				w.t.Fatalf("%s: deleted %s returned", what, h.Key)
			}
			in[h.Key] = true
		}
		for _, h := range want {
			if in[h.Key] {
				found++
			}
		}
		total += len(want)
	}
	if total > 0 && float64(found)/float64(total) < 0.95 {
		w.t.Fatalf("%s: recall@10 %.3f", what, float64(found)/float64(total))
	}
}

func key(i int) string { return fmt.Sprintf("k%05d", i) }

// TestSealMergeVacuum drives a Set through seals, merges and vacuums with
// Optimize, checking it against exact search over the live points after
// each phase.
func TestSealMergeVacuum(t *testing.T) {
	w := newWorld(t, testConfig(t, 30), 1) // seal past 480 points
	ctx := context.Background()
	for i := range 3000 {
		w.upsert(key(i))
	}
	w.check("plain")
	if err := w.set.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.set.Stats()
	t.Logf("after sealing: %+v", st)
	if st.Indexed == 0 || st.Segments-1 > 3 {
		t.Fatalf("want sealed segments merged down to 3, got %+v", st)
	}
	w.check("sealed")

	// Updates move points to the appendable segment; deletes tombstone.
	for i := 0; i < 3000; i += 3 {
		w.delete(key(i))
	}
	for i := 1; i < 3000; i += 10 {
		w.upsert(key(i))
	}
	w.check("with tombstones")
	if err := w.set.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st = w.set.Stats()
	t.Logf("after vacuum: %+v", st)
	w.set.mu.RLock()
	for _, seg := range w.set.segs {
		if g := seg.graph; w.set.needsVacuum(seg) || float64(g.Deleted()) > 0.2*float64(g.Nodes()) {
			t.Fatalf("segment %d left with %d of %d deleted", seg.id, g.Deleted(), g.Nodes())
		}
	}
	w.set.mu.RUnlock()
	if st.Tombstones >= 1000 {
		t.Fatalf("nothing vacuumed: %+v", st)
	}
	w.check("vacuumed")

	// Deleting everything drops the segments.
	for k := range w.ref {
		w.delete(k)
	}
	if err := w.set.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w.set.Stats(); st.Segments != 1 || st.Indexed != 0 {
		t.Fatalf("empty set keeps segments: %+v", st)
	}
	if names := w.store.Names(); len(names) != 0 {
		t.Fatalf("store keeps %v", names)
	}
	w.check("empty")
}

// TestUnchangedUpsertStays: re-upserting a sealed point with the same
// vector leaves it indexed.
func TestUnchangedUpsertStays(t *testing.T) {
	w := newWorld(t, testConfig(t, 10), 2)
	for i := range 400 {
		w.upsert(key(i))
	}
	if err := w.set.Optimize(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := w.set.Stats()
	for i := range 400 {
		w.set.Upsert(key(i), w.ref[key(i)])
	}
	if after := w.set.Stats(); !reflect.DeepEqual(after, before) {
		t.Fatalf("stats changed: %+v -> %+v", before, after)
	}
	w.check("re-upserted")
}

// TestBackgroundSealWhileSearching writes and searches from several
// goroutines while the background optimizer seals and merges; every
// search must only return live-or-recently-live keys and the final state
// must match the reference. Run with -race.
func TestBackgroundSealWhileSearching(t *testing.T) {
	w := newWorld(t, testConfig(t, 8), 3)
	var mu sync.Mutex // guards w.ref and w.r
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			rr := rand.New(rand.NewPCG(uint64(r), 9))
			q := make([]float32, dim)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range q {
					q[i] = float32(rr.NormFloat64())
				}
				hits := w.set.Search(q, 5, index.SearchParams{Ef: 16})
				if len(hits) > 5 {
					panic("too many hits")
				}
				w.set.Stats()
			}
		}()
	}
	for i := range 3000 {
		mu.Lock()
		switch {
		case i%7 == 3:
			w.delete(key(i - 3))
		default:
			w.upsert(key(i % 2000))
		}
		mu.Unlock()
	}
	// Let the optimizer catch up, then stop the readers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := w.set.Stats()
		if st.Indexed > 0 && !st.Optimizing && !w.set.overThresholdLocked() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("optimizer did not index anything: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	readers.Wait()
	if err := w.set.Optimize(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.check("after background optimization")
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// overThresholdLocked is overThreshold for tests.
func (s *Set) overThresholdLocked() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.overThreshold()
}

// TestPersistence: sealed segments go to the Store; a new Set opened on it
// reloads them without re-indexing, and the Loader applies what changed
// after they were written.
func TestPersistence(t *testing.T) {
	cfg := testConfig(t, 20)
	w := newWorld(t, cfg, 4)
	for i := range 2000 {
		w.upsert(key(i))
	}
	if err := w.set.Optimize(context.Background()); err != nil {
		t.Fatal(err)
	}
	indexed := w.set.Stats().Indexed
	if indexed == 0 || len(w.store.Names()) == 0 {
		t.Fatalf("nothing persisted: %+v %v", w.set.Stats(), w.store.Names())
	}
	// Changes after the blobs were written: the Loader must apply them.
	for i := 0; i < 2000; i += 5 {
		w.delete(key(i))
	}
	for i := 1; i < 2000; i += 50 {
		w.upsert(key(i))
	}
	w.set.Close()
	before := w.set.Stats()

	set, l, err := Open(cfg, w.store, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	for k, v := range w.ref {
		l.Add(k, v)
	}
	l.Finish()
	l.Finish() // idempotent
	w.set = set
	st := set.Stats()
	t.Logf("reloaded: %+v", st)
	// Whatever was indexed before is indexed again, without a build.
	if st.Indexed != before.Indexed || st.Plain != before.Plain || st.Loaded != len(w.store.Names()) {
		t.Fatalf("reload re-indexed: %+v, before %+v, stored %v", st, before, w.store.Names())
	}
	w.check("reloaded")
}

// TestStoreErrors: a failing Store does not lose data; a corrupt or
// mismatched blob fails Open.
func TestStoreErrors(t *testing.T) {
	cfg := testConfig(t, 5)
	store := NewMemStore()
	store.FailApply = errors.New("disk full")
	logs := &syncBuffer{}
	set, l, err := Open(cfg, store, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Optimize(context.Background()); !errors.Is(err, ErrLoading) {
		t.Fatalf("Optimize before Finish: %v", err)
	}
	l.Finish()
	w := &world{t: t, set: set, store: store, ref: map[string][]float32{}, r: rand.New(rand.NewPCG(5, 1))}
	for i := range 300 {
		w.upsert(key(i))
	}
	// The background optimizer or Optimize meets the error; either way
	// it is reported and the sealed segment serves from memory.
	err = set.Optimize(context.Background())
	for deadline := time.Now().Add(20 * time.Second); err == nil && !strings.Contains(logs.String(), "disk full"); {
		if time.Now().After(deadline) {
			t.Fatal("store error neither returned nor logged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if set.Stats().Indexed == 0 || len(store.Names()) != 0 {
		t.Fatalf("segment not kept in memory: %+v %v", set.Stats(), store.Names())
	}
	w.check("after store error")

	bad := func(name string, blobs map[string][]byte, cfg Config) {
		t.Helper()
		st := NewMemStore()
		if err := st.Apply(context.Background(), blobs, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Open(cfg, st, zerolog.Nop()); err == nil {
			t.Fatalf("%s: Open succeeded", name)
		}
	}
	g, err := hnsw.Build(context.Background(), cfg.HNSW, cfg.Metric, dim, []string{"a"}, func(int) []float32 { return make([]float32, dim) }, 1)
	if err != nil {
		t.Fatal(err)
	}
	blob := g.Marshal()
	bad("garbage", map[string][]byte{blobName(1): []byte("nope")}, cfg)
	bad("bad name", map[string][]byte{"x": blob}, cfg)
	other := cfg
	other.Dim = 8
	bad("other dimension", map[string][]byte{blobName(1): blob}, other)
}

func TestConfigFromCollection(t *testing.T) {
	m, _ := distance.For(shoalv1.Distance_DISTANCE_COSINE)
	f := func(js string, wantErr bool, check func(Config) bool) {
		t.Helper()
		c, err := ConfigFromCollection([]byte(js), "v", m, 4)
		if (err != nil) != wantErr {
			t.Fatalf("%s: err = %v", js, err)
		}
		if err == nil && !check(c) {
			t.Fatalf("%s: got %+v", js, c)
		}
	}
	f(``, false, func(c Config) bool {
		return c.HNSW.M == 16 && c.HNSW.EfConstruct == 100 && c.IndexingThresholdKB == 10000 && c.DeletedThreshold == 0.2 && c.VacuumMinVectors == 1000
	})
	f(`{"hnsw_config":{"m":32,"ef_construct":64,"max_indexing_threads":2},"optimizers_config":{"indexing_threshold":0,"deleted_threshold":0.5,"vacuum_min_vector_number":10,"default_segment_number":4,"max_segment_size":1000}}`, false, func(c Config) bool {
		return c.HNSW.M == 32 && c.HNSW.EfConstruct == 64 && c.BuildWorkers == 2 && c.IndexingThresholdKB == 0 &&
			c.DeletedThreshold == 0.5 && c.VacuumMinVectors == 10 && c.MaxSegments == 4 && c.MaxSegmentSizeKB == 1000
	})
	f(`{"wal_config":{"wal_capacity_mb":32}}`, false, func(c Config) bool { return c.HNSW.M == 16 })
	f(`{"hnsw_config":{"m":32,"ef_construct":64},"vector_options":{"v":{"hnsw_config":{"m":8}},"w":{"hnsw_config":{"m":4}}}}`, false, func(c Config) bool {
		return c.HNSW.M == 8 && c.HNSW.EfConstruct == 64
	})
	f(`{"optimizers_config":{"max_segment_size":null,"default_segment_number":0}}`, false, func(c Config) bool {
		return c.MaxSegmentSizeKB == DefaultMaxSegmentSizeKB && c.MaxSegments == 0
	})
	// payload_m defaults to the vector's m; 0 links no values.
	f(`{"hnsw_config":{"m":32}}`, false, func(c Config) bool { return c.PayloadM == 32 })
	f(``, false, func(c Config) bool { return c.PayloadM == 16 })
	f(`{"hnsw_config":{"payload_m":0,"m":24},"vector_options":{"v":{"hnsw_config":{"m":8}}}}`, false, func(c Config) bool { return c.PayloadM == 0 && c.HNSW.M == 8 })
	f(`{"hnsw_config":{"payload_m":6},"vector_options":{"v":{"hnsw_config":{"payload_m":12}}}}`, false, func(c Config) bool { return c.PayloadM == 12 })
	f(`{"hnsw_config":{"payload_m":1}}`, true, nil)
	f(`{"hnsw_config":{"m":1}}`, true, nil)
	f(`{"hnsw_config":{"ef_construct":2}}`, true, nil)
	f(`{"optimizers_config":{"deleted_threshold":1.5}}`, true, nil)
	f(`{"optimizers_config":{"indexing_threshold":-1}}`, true, nil)
	f(`{"hnsw_config":[]}`, true, nil)
}

// TestIndexingDisabled: indexing_threshold 0 keeps every point plain.
func TestIndexingDisabled(t *testing.T) {
	w := newWorld(t, testConfig(t, 0), 6)
	for i := range 1000 {
		w.upsert(key(i))
	}
	if err := w.set.Optimize(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := w.set.Stats(); st.Indexed != 0 || st.Segments != 1 {
		t.Fatalf("indexed with indexing_threshold 0: %+v", st)
	}
	w.check("plain only")
}
