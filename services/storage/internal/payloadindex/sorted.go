package payloadindex

import (
	"cmp"
	"slices"
	"sort"
	"sync"
)

type entry[T cmp.Ordered] struct {
	v   T
	key string
}

func compareEntries[T cmp.Ordered](a, b entry[T]) int {
	if c := cmp.Compare(a.v, b.v); c != 0 {
		return c
	}
	return cmp.Compare(a.key, b.key)
}

// sortedIndex keeps (value, point) entries in value order for range
// conditions and order_by. Writes append to an unsorted pending list; the
// first read after writes merges it into the sorted list (under mu, so
// concurrent readers are safe). Removed points leave stale entries behind
// that reads skip (the forward map is authoritative) and merges drop.
type sortedIndex[T cmp.Ordered] struct {
	extract func(leaf any) (T, bool)
	forward map[string][]T

	mu      sync.Mutex
	main    []entry[T] // sorted by (value, key); may hold stale entries
	pending []entry[T]
	stale   int // stale entries in main (approximate upper bound)
}

func newSorted[T cmp.Ordered](extract func(any) (T, bool)) *sortedIndex[T] {
	return &sortedIndex[T]{extract: extract, forward: map[string][]T{}}
}

func (s *sortedIndex[T]) set(key string, leaves []any) {
	var vals []T
	for _, l := range leaves {
		v, ok := s.extract(l)
		if !ok || containsValue(vals, v) {
			continue
		}
		vals = append(vals, v)
	}
	if old, ok := s.forward[key]; ok && sameValues(old, vals) {
		return
	}
	s.remove(key)
	if len(vals) == 0 {
		return
	}
	s.forward[key] = vals
	s.mu.Lock()
	for _, v := range vals {
		s.pending = append(s.pending, entry[T]{v: v, key: key})
	}
	if len(s.pending) > 4096 && len(s.pending) > len(s.main)/4 {
		s.compactLocked()
	}
	s.mu.Unlock()
}

func (s *sortedIndex[T]) remove(key string) {
	if old, ok := s.forward[key]; ok {
		s.mu.Lock()
		s.stale += len(old)
		s.mu.Unlock()
		delete(s.forward, key)
	}
}

func (s *sortedIndex[T]) count() int { return len(s.forward) }

// live reports whether e is one of its point's current values.
func (s *sortedIndex[T]) live(e entry[T]) bool {
	return containsValue(s.forward[e.key], e.v)
}

// compactLocked merges pending into main, dropping stale and duplicate
// entries.
func (s *sortedIndex[T]) compactLocked() {
	slices.SortFunc(s.pending, compareEntries[T])
	merged := make([]entry[T], 0, len(s.main)+len(s.pending))
	i, j := 0, 0
	for i < len(s.main) || j < len(s.pending) {
		var e entry[T]
		switch {
		case j == len(s.pending) || (i < len(s.main) && compareEntries(s.main[i], s.pending[j]) <= 0):
			e = s.main[i]
			i++
		default:
			e = s.pending[j]
			j++
		}
		if n := len(merged); n > 0 && compareEntries(merged[n-1], e) == 0 {
			continue
		}
		if s.live(e) {
			merged = append(merged, e)
		}
	}
	s.main, s.pending, s.stale = merged, nil, 0
}

// sorted returns the sorted entries (possibly with stale ones, which
// callers skip with live). The slice is never modified afterwards.
func (s *sortedIndex[T]) sorted() []entry[T] {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 || s.stale > len(s.main)/2 {
		s.compactLocked()
	}
	return s.main
}

// bounds is a value interval; nil ends are open.
type bounds[T cmp.Ordered] struct {
	lo, hi         *T
	loIncl, hiIncl bool
}

func (b bounds[T]) contains(v T) bool {
	if b.lo != nil && (v < *b.lo || (!b.loIncl && v == *b.lo)) {
		return false
	}
	if b.hi != nil && (v > *b.hi || (!b.hiIncl && v == *b.hi)) {
		return false
	}
	return true
}

// span returns the [from, to) positions of entries within b.
func (s *sortedIndex[T]) span(es []entry[T], b bounds[T]) (int, int) {
	from, to := 0, len(es)
	if b.lo != nil {
		lo, incl := *b.lo, b.loIncl
		from = sort.Search(len(es), func(i int) bool {
			return es[i].v > lo || (incl && es[i].v == lo)
		})
	}
	if b.hi != nil {
		hi, incl := *b.hi, b.hiIncl
		to = sort.Search(len(es), func(i int) bool {
			return es[i].v > hi || (!incl && es[i].v == hi)
		})
	}
	return from, max(from, to)
}

// estimate is the number of entries within b (an upper bound of the
// points).
func (s *sortedIndex[T]) estimate(b bounds[T]) int {
	from, to := s.span(s.sorted(), b)
	return to - from
}

// keys returns the points with a value within b.
func (s *sortedIndex[T]) keys(b bounds[T]) []string {
	es := s.sorted()
	from, to := s.span(es, b)
	seen := make(map[string]struct{}, to-from)
	out := make([]string, 0, to-from)
	for _, e := range es[from:to] {
		if _, dup := seen[e.key]; dup || !s.live(e) {
			continue
		}
		seen[e.key] = struct{}{}
		out = append(out, e.key)
	}
	return out
}

func (s *sortedIndex[T]) checker(b bounds[T]) func(string) bool {
	return func(key string) bool {
		for _, v := range s.forward[key] {
			if b.contains(v) {
				return true
			}
		}
		return false
	}
}

// walk calls fn for each live (value, key) entry within b, in (value, key)
// order or its reverse, until fn returns false.
func (s *sortedIndex[T]) walk(b bounds[T], desc bool, fn func(v T, key string) bool) {
	es := s.sorted()
	from, to := s.span(es, b)
	if !desc {
		for _, e := range es[from:to] {
			if s.live(e) && !fn(e.v, e.key) {
				return
			}
		}
		return
	}
	for i := to - 1; i >= from; i-- {
		if e := es[i]; s.live(e) && !fn(e.v, e.key) {
			return
		}
	}
}
