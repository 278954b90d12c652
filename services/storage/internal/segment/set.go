package segment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

var (
	// ErrClosed is returned by Optimize after Close.
	ErrClosed = errors.New("segment: set closed")
	// ErrLoading is returned by Optimize before Loader.Finish.
	ErrLoading = errors.New("segment: set still loading")
)

// Set is the segments of one vector name. Every key is live in at most one
// segment. Its methods are safe for concurrent use; a background optimizer
// (started by Loader.Finish) seals, vacuums and merges segments.
type Set struct {
	cfg   Config
	store Store
	log   zerolog.Logger

	mu         sync.RWMutex
	appendable *segment
	segs       []*segment // sealed and frozen segments, oldest first
	nextID     uint64

	// jobMu is held while an optimization job runs (one at a time).
	jobMu   sync.Mutex
	running bool // a job is between planning and swapping (under mu)
	// current is the running job, completed the last finished ones
	// (oldest first), for Progress; under mu.
	current    *Optimization
	completed  []Optimization
	uuidPrefix [8]byte

	ctx    context.Context // cancelled by Close: aborts builds
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{} // closed when the optimizer goroutine exits
	start  sync.Once
	closed sync.Once
	loaded atomic.Bool // Loader.Finish ran: optimization may start

	// linkFields are the fields sealed graphs should have linked
	// (SetLinkFields); under mu.
	linkFields []string

	builds atomic.Uint64 // graphs built since Open
	// filtered searches of sealed segments through cached node sets,
	// and of those through group links (SearchFiltered)
	setSearches, groupSearches atomic.Uint64
	fromStore                  int // sealed segments loaded by Open
}

var _ index.VectorIndex = (*Set)(nil)

// Open returns a Set with the sealed segments found in store and an empty
// appendable segment, and a Loader through which the caller must pass
// every stored point before the Set is used (see Loader). A stored blob
// that does not decode, or whose graph does not match cfg's metric and
// dimension, is an error.
func Open(cfg Config, store Store, log zerolog.Logger) (*Set, *Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Set{
		cfg: cfg, store: store, log: log,
		ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),

		uuidPrefix: newUUIDPrefix(),
	}
	err := store.Load(func(name string, blob []byte) error {
		var id uint64
		if _, err := fmt.Sscanf(name, "%016x", &id); err != nil || blobName(id) != name {
			return fmt.Errorf("segment blob %q: bad name", name)
		}
		g, err := hnsw.Unmarshal(blob)
		if err != nil {
			return fmt.Errorf("segment blob %s: %w", name, err)
		}
		if g.Dim() != cfg.Dim || g.Metric().Kind() != cfg.Metric.Kind() {
			return fmt.Errorf("segment blob %s: %v×%d does not match the collection's %v×%d",
				name, g.Metric().Kind(), g.Dim(), cfg.Metric.Kind(), cfg.Dim)
		}
		s.segs = append(s.segs, &segment{id: id, graph: g, stored: true})
		s.nextID = max(s.nextID, id+1)
		s.fromStore++
		return nil
	})
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("open segments: %w", err)
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return int(a.id - b.id) })
	s.appendable = s.newPlain()
	return s, &Loader{s: s, seen: map[string]bool{}}, nil
}

// newPlain returns an empty plain segment; the caller holds mu (or owns s).
func (s *Set) newPlain() *segment {
	seg := &segment{id: s.nextID, flat: index.NewFlat(s.cfg.Metric, s.cfg.Dim)}
	s.nextID++
	return seg
}

// Config is the Set's configuration.
func (s *Set) Config() Config { return s.cfg }

// Metric implements index.VectorIndex.
func (s *Set) Metric() distance.Metric { return s.cfg.Metric }

// Len implements index.VectorIndex.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := s.appendable.len()
	for _, seg := range s.segs {
		n += seg.len()
	}
	return n
}

// Upsert implements index.VectorIndex: the point goes to the appendable
// segment and any older copy elsewhere becomes a tombstone. A point whose
// vector a sealed segment already holds unchanged stays there. It panics
// if len(vec) != Dim, like index.Flat.
func (s *Set) Upsert(key string, vec []float32) {
	if len(vec) != s.cfg.Dim {
		panic("segment: vector length does not match the set dimension")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		if seg.sealed() {
			if old, ok := seg.graph.Vector(key); ok && slices.Equal(old, vec) {
				s.appendable.flat.Delete(key)
				return
			}
		}
		seg.delete(key)
	}
	s.appendable.flat.Upsert(key, vec)
	if s.overThreshold() {
		s.kick()
	}
}

// overThreshold reports whether the appendable segment should be sealed;
// the caller holds mu.
func (s *Set) overThreshold() bool {
	t := s.cfg.IndexingThresholdKB
	return t > 0 && s.cfg.bytes(s.appendable.len()) > int64(t)*1024
}

// Delete implements index.VectorIndex.
func (s *Set) Delete(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appendable.delete(key) {
		return true
	}
	for _, seg := range s.segs {
		if seg.delete(key) {
			if seg.sealed() && s.needsVacuum(seg) {
				s.kick()
			}
			return true
		}
	}
	return false
}

// Vector implements index.VectorIndex.
func (s *Set) Vector(key string) ([]float32, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if v, ok := s.appendable.vector(key); ok {
		return v, true
	}
	for _, seg := range s.segs {
		if v, ok := seg.vector(key); ok {
			return v, true
		}
	}
	return nil, false
}

// Search implements index.VectorIndex: every segment is searched (sealed
// ones with HNSW unless p.Exact, plain ones exactly) and the hits merged.
func (s *Set) Search(query []float32, k int, p index.SearchParams) []index.Hit {
	return s.mergeTop(query, k, func(seg *segment) []index.Hit { return seg.search(query, k, p) })
}

var _ index.CandidateScorer = (*Set)(nil)

// ScoreKeys implements index.CandidateScorer: every segment scores the
// keys it holds and the hits are merged.
func (s *Set) ScoreKeys(query []float32, k int, keys []string, p index.SearchParams) []index.Hit {
	return s.mergeTop(query, k, func(seg *segment) []index.Hit { return seg.scoreKeys(query, k, keys, p) })
}

// mergeTop asks every segment, the appendable one first, for its hits
// (fn runs with mu held shared) and keeps the k best of all. A query of
// the wrong length or k ≤ 0 gets nothing.
func (s *Set) mergeTop(query []float32, k int, fn func(seg *segment) []index.Hit) []index.Hit {
	if k <= 0 || len(query) != s.cfg.Dim {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.segs) == 0 {
		return fn(s.appendable)
	}
	top := index.NewTopK(k, s.cfg.Metric)
	for _, h := range fn(s.appendable) {
		top.Push(h)
	}
	for _, seg := range s.segs {
		for _, h := range fn(seg) {
			top.Push(h)
		}
	}
	return top.Sorted()
}

// Stats describes a Set's segments.
type Stats struct {
	// Segments counts every segment, the appendable one included.
	Segments int
	// Indexed is the number of live points in sealed (HNSW) segments.
	Indexed int
	// Plain is the number of points in plain segments (searched exactly).
	Plain int
	// Tombstones is the number of deleted points sealed segments still
	// hold.
	Tombstones int
	// Optimizing reports a job in progress.
	Optimizing bool
	// Loaded is the number of sealed segments Open read from the Store.
	Loaded int
	// Builds is the number of graphs this Set built since Open (seals,
	// vacuums and merges); a reload that re-indexed nothing leaves it 0.
	Builds uint64
	// Progress is the optimizer's jobs, queue and idle segments.
	Progress Progress
	// GroupLinked counts, over sealed segments and linked fields, the
	// points with filter-aware links (hnsw.Graph.LinkField).
	GroupLinked int
	// FilterLinks counts, over sealed segments, the frequent filters whose
	// matches have links of their own (filterlinks.go).
	FilterLinks int
	// SetSearches counts searches of a sealed segment with a cached
	// filter node set since Open; GroupSearches those of them that
	// walked a value's group links.
	SetSearches, GroupSearches uint64
}

// Stats returns the current segment statistics.
func (s *Set) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{
		Segments: 1 + len(s.segs), Plain: s.appendable.len(), Optimizing: s.running,
		Loaded: s.fromStore, Builds: s.builds.Load(),
		SetSearches: s.setSearches.Load(), GroupSearches: s.groupSearches.Load(),
	}
	st.Progress = s.progressLocked()
	for _, seg := range s.segs {
		if seg.sealed() {
			st.Indexed += seg.graph.Len()
			st.Tombstones += seg.graph.Deleted()
			for _, f := range seg.graph.Fields() {
				if f.Ephemeral() {
					st.FilterLinks++
				} else {
					st.GroupLinked += f.Linked()
				}
			}
		} else {
			st.Plain += seg.len()
		}
	}
	return st
}

// Close stops the optimizer, aborting a build in progress, and waits for
// it. The Set stays searchable and writable; nothing more is optimized or
// persisted.
func (s *Set) Close() {
	s.closed.Do(func() {
		s.cancel()
		s.start.Do(func() { close(s.done) }) // never started
		<-s.done
	})
}

// kick wakes the optimizer without blocking.
func (s *Set) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
