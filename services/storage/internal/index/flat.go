package index

import "github.com/shoaldb/shoal/services/storage/internal/distance"

// Flat is an exact index: every vector lives in one contiguous slab and a
// search scores them all. Deleting swaps the last vector into the freed
// slot, so the slab stays dense.
type Flat struct {
	metric distance.Metric
	dim    int
	slab   []float32      // len = dim * len(keys)
	keys   []string       // slot -> key
	slots  map[string]int // key -> slot
}

var _ VectorIndex = (*Flat)(nil)

// NewFlat returns an empty exact index of vectors of length dim.
func NewFlat(metric distance.Metric, dim int) *Flat {
	return &Flat{metric: metric, dim: dim, slots: map[string]int{}}
}

// Metric implements VectorIndex.
func (f *Flat) Metric() distance.Metric { return f.metric }

// Len implements VectorIndex.
func (f *Flat) Len() int { return len(f.keys) }

// Upsert implements VectorIndex. It panics if len(vec) != dim: the replica
// validates sizes before anything reaches the index.
func (f *Flat) Upsert(key string, vec []float32) {
	if len(vec) != f.dim {
		panic("index: vector length does not match the index dimension")
	}
	if slot, ok := f.slots[key]; ok {
		copy(f.slab[slot*f.dim:(slot+1)*f.dim], vec)
		return
	}
	f.slots[key] = len(f.keys)
	f.keys = append(f.keys, key)
	if len(f.slab)+f.dim > cap(f.slab) {
		// Double (append grows large slices by only ~1.25x, which copies
		// the slab about five times over while a replica loads).
		// Large slabs get transparent huge pages: besides the TLB, a
		// fresh slab then costs a page fault per 2 MiB instead of per
		// 4 KiB, which dominates filling one while a replica loads.
		grown := make([]float32, len(f.slab), max(2*cap(f.slab), 1024*f.dim))
		AdviseHuge(grown)
		copy(grown, f.slab)
		f.slab = grown
	}
	f.slab = append(f.slab, vec...)
}

// Delete implements VectorIndex.
func (f *Flat) Delete(key string) bool {
	slot, ok := f.slots[key]
	if !ok {
		return false
	}
	last := len(f.keys) - 1
	if slot != last {
		copy(f.slab[slot*f.dim:(slot+1)*f.dim], f.slab[last*f.dim:(last+1)*f.dim])
		moved := f.keys[last]
		f.keys[slot] = moved
		f.slots[moved] = slot
	}
	f.keys[last] = ""
	f.keys = f.keys[:last]
	f.slab = f.slab[:last*f.dim]
	delete(f.slots, key)
	f.maybeShrink()
	return true
}

// maybeShrink gives memory back after many deletes.
func (f *Flat) maybeShrink() {
	if c := cap(f.keys); c > 1024 && len(f.keys) < c/4 {
		f.keys = append(make([]string, 0, len(f.keys)*2), f.keys...)
		f.slab = append(make([]float32, 0, len(f.slab)*2), f.slab...)
	}
}

// Vector implements VectorIndex.
func (f *Flat) Vector(key string) ([]float32, bool) {
	slot, ok := f.slots[key]
	if !ok {
		return nil, false
	}
	return f.slab[slot*f.dim : (slot+1)*f.dim : (slot+1)*f.dim], true
}

// Each calls fn for every key and its stored vector, in slot order. fn
// must not modify the index; the vector is valid until the next write.
func (f *Flat) Each(fn func(key string, vec []float32)) {
	for slot, key := range f.keys {
		fn(key, f.slab[slot*f.dim:(slot+1)*f.dim:(slot+1)*f.dim])
	}
}

// Search implements VectorIndex.
func (f *Flat) Search(query []float32, k int, p SearchParams) []Hit {
	if k <= 0 || len(query) != f.dim {
		return nil
	}
	top := NewTopK(k, f.metric)
	for slot, key := range f.keys {
		score := f.metric.Score(query, f.slab[slot*f.dim:(slot+1)*f.dim])
		if p.Threshold != nil && !f.metric.Passes(score, *p.Threshold) {
			continue
		}
		if !top.Admits(score) {
			continue
		}
		if p.Accept != nil && !p.Accept(key) {
			continue
		}
		top.Push(Hit{Key: key, Score: score})
	}
	return top.Sorted()
}

var _ CandidateScorer = (*Flat)(nil)

// ScoreKeys implements CandidateScorer.
func (f *Flat) ScoreKeys(query []float32, k int, keys []string, p SearchParams) []Hit {
	if k <= 0 || len(query) != f.dim {
		return nil
	}
	top := NewTopK(k, f.metric)
	for _, key := range keys {
		slot, ok := f.slots[key]
		if !ok {
			continue
		}
		score := f.metric.Score(query, f.slab[slot*f.dim:(slot+1)*f.dim])
		if p.Threshold != nil && !f.metric.Passes(score, *p.Threshold) {
			continue
		}
		if !top.Admits(score) || (p.Accept != nil && !p.Accept(key)) {
			continue
		}
		top.Push(Hit{Key: key, Score: score})
	}
	return top.Sorted()
}
