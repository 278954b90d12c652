package hnsw

import (
	"math/rand/v2"
	"slices"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// TestNodeSet: membership, count, growth past the initial capacity, and
// the ids listed in order.
func TestNodeSet(t *testing.T) {
	f := func(capacity int, add []uint32, want []uint32) {
		t.Helper()
		s := NewNodeSet(capacity)
		for _, id := range add {
			s.Add(id)
		}
		if s.Len() != len(want) {
			t.Fatalf("cap %d add %v: Len %d, want %d", capacity, add, s.Len(), len(want))
		}
		if got := s.appendIDs(nil); !slices.Equal(got, want) {
			t.Fatalf("cap %d add %v: ids %v, want %v", capacity, add, got, want)
		}
		for id := range uint32(300) {
			if s.Has(id) != slices.Contains(want, id) {
				t.Fatalf("cap %d add %v: Has(%d) = %v", capacity, add, id, s.Has(id))
			}
		}
		if s.Has(1 << 30) {
			t.Fatal("Has beyond the range")
		}
	}
	f(0, nil, nil)
	f(10, []uint32{3, 3, 0, 9}, []uint32{0, 3, 9})
	f(64, []uint32{63, 64, 127, 128}, []uint32{63, 64, 127, 128})
	f(1, []uint32{250, 1, 250}, []uint32{1, 250})
	f(-5, []uint32{7}, []uint32{7})
}

// groupData is a graph over a mixture with a label per point (label i%100
// after a fixed shuffle, so labels are independent of position), and the
// groups of node ids per label.
func groupData(t testing.TB) (dataset, *Graph, []int, [][]uint32) {
	t.Helper()
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_EUCLID, 5000, 32, 21)
	g := build(t, Config{}, ds, 1)
	labels := rand.New(rand.NewPCG(9, 9)).Perm(len(ds.keys))
	groups := make([][]uint32, 100)
	for i := range labels {
		labels[i] %= 100
		groups[labels[i]] = append(groups[labels[i]], uint32(i))
	}
	return ds, g, labels, groups
}

// TestSearchSet: SearchSet returns only points of the set, matches an
// exact search over the set with recall ≥ 0.95 at 1, 10 and 50 %
// selectivity and skips deleted points; ScoreSet is exact.
func TestSearchSet(t *testing.T) {
	ds, g, labels, _ := groupData(t)
	for i := 0; i < len(ds.keys); i += 37 {
		g.Delete(ds.keys[i])
	}
	live := func(i int) bool { return i%37 != 0 }
	for _, sel := range []int{1, 10, 50} {
		in := func(i int) bool { return labels[i] < sel }
		var keys []string
		want := 0
		for i, k := range ds.keys {
			if in(i) {
				keys = append(keys, k)
				if live(i) {
					want++
				}
			}
		}
		keys = append(keys, "missing")
		set := g.NodeSet(keys)
		if set.Len() != want {
			t.Fatalf("%d%%: set of %d, want the %d live keys", sel, set.Len(), want)
		}
		ref := ds.flat(func(i int) bool { return in(i) && live(i) })
		r := rand.New(rand.NewPCG(uint64(sel), 3))
		var sum float64
		const nq = 60
		for range nq {
			q := ds.query(r)
			want := ref.Search(q, 10, index.SearchParams{})
			got := g.SearchSet(q, 10, set, index.SearchParams{Ef: 32})
			for _, h := range got {
				if _, ok := ref.Vector(h.Key); !ok {
					t.Fatalf("%d%%: %s is not a live point of the set", sel, h.Key)
				}
			}
			if len(got) != 10 {
				t.Fatalf("%d%%: %d hits", sel, len(got))
			}
			sum += recall(got, want)
			if exact := g.ScoreSet(q, 10, set, index.SearchParams{}); !slices.Equal(exact, want) {
				t.Fatalf("%d%%: ScoreSet\n got %v\nwant %v", sel, exact, want)
			}
		}
		if rc := sum / nq; rc < 0.95 {
			t.Fatalf("%d%%: recall %.3f", sel, rc)
		}
	}
	if hits := g.SearchSet(ds.vec(0), 5, NewNodeSet(0), index.SearchParams{}); hits != nil {
		t.Fatalf("empty set: %v", hits)
	}
}
