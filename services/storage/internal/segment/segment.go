package segment

import (
	"fmt"
	"slices"

	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// segment is either plain (an exact index.Flat: the appendable segment, or
// one being sealed) or sealed (an HNSW graph, immutable except for
// tombstones). The Set's lock guards it.
type segment struct {
	id    uint64
	flat  *index.Flat
	graph *hnsw.Graph
	// frozen: a plain segment being indexed; it takes no new points, only
	// deletes.
	frozen bool
	// stored: a sealed segment whose blob is in the Store.
	stored bool
	// filters caches filter matches as node sets (sealed segments).
	filters filterCache
}

// blobName is the Store name of a sealed segment.
func blobName(id uint64) string { return fmt.Sprintf("%016x", id) }

func (s *segment) sealed() bool { return s.graph != nil }

func (s *segment) len() int {
	if s.graph != nil {
		return s.graph.Len()
	}
	return s.flat.Len()
}

func (s *segment) contains(key string) bool {
	if s.graph != nil {
		return s.graph.Contains(key)
	}
	_, ok := s.flat.Vector(key)
	return ok
}

func (s *segment) vector(key string) ([]float32, bool) {
	if s.graph != nil {
		return s.graph.Vector(key)
	}
	return s.flat.Vector(key)
}

func (s *segment) delete(key string) bool {
	if s.graph != nil {
		return s.graph.Delete(key)
	}
	return s.flat.Delete(key)
}

func (s *segment) search(q []float32, k int, p index.SearchParams) []index.Hit {
	if s.graph != nil {
		return s.graph.Search(q, k, p)
	}
	return s.flat.Search(q, k, p)
}

func (s *segment) scoreKeys(q []float32, k int, keys []string, p index.SearchParams) []index.Hit {
	if s.graph != nil {
		return s.graph.ScoreKeys(q, k, keys, p)
	}
	return s.flat.ScoreKeys(q, k, keys, p)
}

// snapshot is the live points of source segments, taken under the Set's
// lock, for building a graph outside it.
type snapshot struct {
	keys []string
	vecs [][]float32
}

// add appends seg's live points. A sealed graph never moves its vectors,
// so they are referenced; a plain segment's are copied, since deletes
// move vectors inside a Flat.
func (sn *snapshot) add(seg *segment) {
	if seg.graph != nil {
		seg.graph.Live(func(key string, vec []float32) bool {
			sn.keys = append(sn.keys, key)
			sn.vecs = append(sn.vecs, vec)
			return true
		})
		return
	}
	seg.flat.Each(func(key string, vec []float32) {
		sn.keys = append(sn.keys, key)
		sn.vecs = append(sn.vecs, slices.Clone(vec))
	})
}
