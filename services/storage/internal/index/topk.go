package index

import "github.com/shoaldb/shoal/services/storage/internal/distance"

// TopK keeps the k best hits seen so far in a bounded heap whose root is
// the worst kept hit, so each candidate costs one comparison unless it
// enters the heap.
type TopK struct {
	k      int
	metric distance.Metric
	h      []Hit
}

// NewTopK returns a collector of the k best hits under metric.
func NewTopK(k int, metric distance.Metric) *TopK {
	return &TopK{k: k, metric: metric, h: make([]Hit, 0, min(k, 1024))}
}

// better ranks a before b: better score, then smaller key.
func (t *TopK) better(a, b Hit) bool {
	if a.Score != b.Score {
		return t.metric.Better(a.Score, b.Score)
	}
	return a.Key < b.Key
}

// Full reports whether k hits are held.
func (t *TopK) Full() bool { return len(t.h) >= t.k }

// Worst returns the worst kept hit; only meaningful when Full.
func (t *TopK) Worst() Hit { return t.h[0] }

// Push offers a hit; it is kept if it ranks among the k best so far.
func (t *TopK) Push(hit Hit) {
	if t.k <= 0 {
		return
	}
	if len(t.h) < t.k {
		t.h = append(t.h, hit)
		t.up(len(t.h) - 1)
		return
	}
	if !t.better(hit, t.h[0]) {
		return
	}
	t.h[0] = hit
	t.down(0)
}

// Admits reports whether a hit with this score could enter the heap, so
// that callers can skip building it.
func (t *TopK) Admits(score float32) bool {
	if t.k <= 0 {
		return false
	}
	if len(t.h) < t.k {
		return true
	}
	w := t.h[0].Score
	return score == w || t.metric.Better(score, w)
}

// Sorted returns the kept hits best first and empties the collector.
func (t *TopK) Sorted() []Hit {
	out := make([]Hit, len(t.h))
	for i := len(t.h) - 1; i >= 0; i-- {
		out[i] = t.h[0]
		last := len(t.h) - 1
		t.h[0] = t.h[last]
		t.h = t.h[:last]
		if last > 0 {
			t.down(0)
		}
	}
	return out
}

// The heap orders the worst hit to the root.
func (t *TopK) worse(i, j int) bool { return t.better(t.h[j], t.h[i]) }

func (t *TopK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.worse(i, p) {
			return
		}
		t.h[i], t.h[p] = t.h[p], t.h[i]
		i = p
	}
}

func (t *TopK) down(i int) {
	n := len(t.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && t.worse(r, l) {
			w = r
		}
		if !t.worse(w, i) {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}
