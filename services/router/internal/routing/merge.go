package routing

import (
	"container/heap"
	"slices"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// ScoreOrder says which scores are better.
type ScoreOrder struct {
	// HigherIsBetter is true for similarities (Cosine, Dot), false for
	// distances (Euclid, Manhattan).
	HigherIsBetter bool
}

// Better reports whether a ranks before b: the better score, and on equal
// scores the lower point id, so that merged results are deterministic.
func (o ScoreOrder) Better(a, b *shoalv1.ScoredPoint) bool {
	if a.GetScore() != b.GetScore() {
		if o.HigherIsBetter {
			return a.GetScore() > b.GetScore()
		}
		return a.GetScore() < b.GetScore()
	}
	return pointid.Compare(a.GetPoint().GetId(), b.GetPoint().GetId()) < 0
}

// Passes reports whether score meets threshold: at least it for
// similarities, at most it for distances.
func (o ScoreOrder) Passes(score, threshold float32) bool {
	if o.HigherIsBetter {
		return score >= threshold
	}
	return score <= threshold
}

// MergeScored merges per-shard result lists into one: best first, each
// point id at most once (its best occurrence), without the ids in exclude
// (keyed by pointid.Key), skipping the first offset points and returning
// at most limit. Scores are kept exactly as the shards returned them. The
// input lists need not be sorted; they are not modified.
func MergeScored(lists [][]*shoalv1.ScoredPoint, order ScoreOrder, offset, limit int, exclude map[string]bool) []*shoalv1.ScoredPoint {
	h := &scoredHeap{order: order}
	for _, l := range lists {
		if len(l) == 0 {
			continue
		}
		sorted := slices.Clone(l)
		slices.SortStableFunc(sorted, func(a, b *shoalv1.ScoredPoint) int {
			switch {
			case order.Better(a, b):
				return -1
			case order.Better(b, a):
				return 1
			}
			return 0
		})
		h.lists = append(h.lists, sorted)
	}
	heap.Init(h)
	seen := map[string]bool{}
	var out []*shoalv1.ScoredPoint
	skipped := 0
	for h.Len() > 0 && len(out) < limit {
		p := h.pop()
		key := string(pointid.Key(p.GetPoint().GetId()))
		if seen[key] || exclude[key] {
			continue
		}
		seen[key] = true
		if skipped < offset {
			skipped++
			continue
		}
		out = append(out, p)
	}
	return out
}

// scoredHeap is a heap of non-empty sorted lists ordered by their heads.
type scoredHeap struct {
	order ScoreOrder
	lists [][]*shoalv1.ScoredPoint
}

func (h *scoredHeap) Len() int { return len(h.lists) }
func (h *scoredHeap) Less(i, j int) bool {
	return h.order.Better(h.lists[i][0], h.lists[j][0])
}
func (h *scoredHeap) Swap(i, j int) { h.lists[i], h.lists[j] = h.lists[j], h.lists[i] }
func (h *scoredHeap) Push(x any)    { h.lists = append(h.lists, x.([]*shoalv1.ScoredPoint)) }
func (h *scoredHeap) Pop() any {
	last := h.lists[len(h.lists)-1]
	h.lists = h.lists[:len(h.lists)-1]
	return last
}

// pop removes and returns the best head.
func (h *scoredHeap) pop() *shoalv1.ScoredPoint {
	p := h.lists[0][0]
	if len(h.lists[0]) == 1 {
		heap.Pop(h)
	} else {
		h.lists[0] = h.lists[0][1:]
		heap.Fix(h, 0)
	}
	return p
}

// MergeByID merges per-shard scroll pages (each the shard's first points
// from the same offset) into the collection's page: points in id order,
// each id once, at most limit of them, and the id of the next point after
// the page (nil when there is none). Every shard must have been asked for
// limit+1 points so that the next id is known.
func MergeByID(lists [][]*shoalv1.Point, limit int) ([]*shoalv1.Point, *shoalv1.PointID) {
	var all []*shoalv1.Point
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b *shoalv1.Point) int {
		return pointid.Compare(a.GetId(), b.GetId())
	})
	all = slices.CompactFunc(all, func(a, b *shoalv1.Point) bool {
		return pointid.Compare(a.GetId(), b.GetId()) == 0
	})
	if len(all) > limit {
		return all[:limit], all[limit].GetId()
	}
	return all, nil
}
