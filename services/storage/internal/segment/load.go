package segment

import "slices"

// Loader reconciles the sealed segments a Set loaded from its Store with
// the replica's points, which are the truth: blobs are written when
// segments are sealed, so later deletes and updates are not in them. The
// caller passes every stored point of the vector name through Add, then
// calls Finish, before using the Set.
type Loader struct {
	s    *Set
	seen map[string]bool
	done bool
}

// Add declares that key currently has vector vec (prepared). A sealed
// segment that holds key with exactly this vector keeps it (the newest
// such segment if several do, as after a crash between writing a merged
// segment and deleting its sources); every other copy becomes a
// tombstone, and a point no sealed segment holds goes to the appendable
// segment.
func (l *Loader) Add(key string, vec []float32) {
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := false
	for i := len(s.segs) - 1; i >= 0; i-- {
		g := s.segs[i].graph
		if old, ok := g.Vector(key); ok {
			if !kept && slices.Equal(old, vec) {
				kept = true
				continue
			}
			g.Delete(key)
		}
	}
	if kept {
		l.seen[key] = true
		return
	}
	s.appendable.flat.Upsert(key, vec)
}

// Finish tombstones every point of the sealed segments that Add did not
// declare (deleted after the segment was written), and starts the
// optimizer (no segment is sealed, merged or vacuumed before Finish).
// Calling it again does nothing.
func (l *Loader) Finish() {
	if l.done {
		return
	}
	l.done = true
	s := l.s
	s.mu.Lock()
	for _, seg := range s.segs {
		var gone []string
		seg.graph.Live(func(key string, _ []float32) bool {
			if !l.seen[key] {
				gone = append(gone, key)
			}
			return true
		})
		for _, k := range gone {
			seg.graph.Delete(k)
		}
	}
	s.mu.Unlock()
	l.seen = nil
	s.loaded.Store(true)
	s.startOptimizer()
}
