package hnsw

import "slices"

// cand is a node with its distance to the query.
type cand struct {
	d  float32
	id uint32
}

// minHeap pops the closest candidate first.
type minHeap []cand

func (h *minHeap) push(c cand) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].d <= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() cand {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	*h = s
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s[r].d < s[l].d {
			c = r
		}
		if s[i].d <= s[c].d {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	return top
}

// maxHeap keeps the furthest candidate at the root, so a bounded result
// set can drop its worst member in O(log n).
type maxHeap []cand

func (h maxHeap) top() cand { return h[0] }

func (h *maxHeap) push(c cand) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].d >= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

// pushBounded adds c to a heap that keeps at most limit members: when
// full, c replaces the root (the caller has checked that c is closer) in
// one sift instead of a push and a pop.
func (h *maxHeap) pushBounded(c cand, limit int) {
	if len(*h) < limit {
		h.push(c)
		return
	}
	s := *h
	s[0] = c
	s.down(0)
}

func (h *maxHeap) pop() cand {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	*h = s
	s.down(0)
	return top
}

// down restores the heap order below i.
func (s maxHeap) down(i int) {
	n := len(s)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s[r].d > s[l].d {
			c = r
		}
		if s[i].d >= s[c].d {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
}

// drainSorted empties h into out, closest first.
func (h *maxHeap) drainSorted(out []cand) []cand {
	n := len(*h)
	start := len(out)
	out = slices.Grow(out, n)[:start+n]
	for i := n - 1; i >= 0; i-- {
		out[start+i] = h.pop()
	}
	return out
}
