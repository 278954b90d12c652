package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

// bruteForce ranks every vector with a plain sort.
func bruteForce(m distance.Metric, vecs map[string][]float32, q []float32, k int, threshold *float32) []Hit {
	var all []Hit
	for key, v := range vecs {
		s := m.Score(q, v)
		if threshold != nil && !m.Passes(s, *threshold) {
			continue
		}
		all = append(all, Hit{Key: key, Score: s})
	}
	slices.SortFunc(all, func(a, b Hit) int {
		switch {
		case a.Score == b.Score && a.Key < b.Key, a.Score != b.Score && m.Better(a.Score, b.Score):
			return -1
		case a.Score == b.Score && a.Key == b.Key:
			return 0
		}
		return 1
	})
	return all[:min(k, len(all))]
}

func TestFlatMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const dim = 7
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			// Few distinct values so that ties happen.
			v[i] = float32(r.IntN(3))
		}
		return v
	}
	f := func(d shoalv1.Distance) {
		t.Helper()
		m, _ := distance.For(d)
		idx := NewFlat(m, dim)
		ref := map[string][]float32{}
		for i := range 500 {
			key := fmt.Sprintf("k%03d", r.IntN(300))
			switch {
			case i%5 == 4:
				_, had := ref[key]
				if idx.Delete(key) != had {
					t.Fatalf("%v: Delete(%s) disagrees with reference", d, key)
				}
				delete(ref, key)
			default:
				v := m.Prepare(vec())
				idx.Upsert(key, v)
				ref[key] = v
			}
		}
		if idx.Len() != len(ref) {
			t.Fatalf("%v: Len %d, want %d", d, idx.Len(), len(ref))
		}
		for key, want := range ref {
			got, ok := idx.Vector(key)
			if !ok || !slices.Equal(got, want) {
				t.Fatalf("%v: Vector(%s) = %v, want %v", d, key, got, want)
			}
		}
		thr := float32(2)
		for _, k := range []int{1, 5, 50, 1000} {
			for _, th := range []*float32{nil, &thr} {
				q := m.Prepare(vec())
				got := idx.Search(q, k, SearchParams{Threshold: th})
				want := bruteForce(m, ref, q, k, th)
				if !slices.Equal(got, want) {
					t.Fatalf("%v k=%d threshold=%v:\n got %v\nwant %v", d, k, th != nil, got, want)
				}
			}
		}
		// Accept filters candidates before they enter the heap.
		got := idx.Search(m.Prepare(vec()), 10, SearchParams{Accept: func(key string) bool { return key < "k100" }})
		for _, h := range got {
			if h.Key >= "k100" {
				t.Fatalf("%v: accept ignored: %v", d, h)
			}
		}
	}
	f(shoalv1.Distance_DISTANCE_COSINE)
	f(shoalv1.Distance_DISTANCE_DOT)
	f(shoalv1.Distance_DISTANCE_EUCLID)
	f(shoalv1.Distance_DISTANCE_MANHATTAN)
}

// TestFlatScoreKeys: scoring a candidate list equals brute force over
// the listed keys the index holds that Accept admits, threshold included;
// keys it lacks are skipped.
func TestFlatScoreKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m, err := distance.For(shoalv1.Distance_DISTANCE_EUCLID)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFlat(m, 5)
	all := map[string][]float32{}
	for i := range 300 {
		v := make([]float32, 5)
		for j := range v {
			v[j] = float32(r.IntN(4)) // few values: many ties
		}
		key := fmt.Sprintf("k%03d", i)
		f.Upsert(key, v)
		all[key] = v
	}
	accept := func(k string) bool { return k[len(k)-1] != '5' }
	var keys []string
	listed := map[string][]float32{}
	for i := 0; i < 300; i += 2 {
		key := fmt.Sprintf("k%03d", i)
		keys = append(keys, key)
		if accept(key) {
			listed[key] = all[key]
		}
	}
	keys = append(keys, "absent")
	for range 30 {
		q := []float32{float32(r.IntN(4)), float32(r.IntN(4)), float32(r.IntN(4)), float32(r.IntN(4)), float32(r.IntN(4))}
		th := float32(2.5)
		for _, p := range []SearchParams{{Accept: accept}, {Accept: accept, Threshold: &th}} {
			got := f.ScoreKeys(q, 10, keys, p)
			if want := bruteForce(m, listed, q, 10, p.Threshold); !slices.Equal(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		}
	}
}
