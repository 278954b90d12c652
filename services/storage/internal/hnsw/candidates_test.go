package hnsw

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// TestScoreKeys: scoring a candidate list gives exactly the hits, scores
// and tie order of an exact search over those candidates, with threshold
// and Accept honoured, missing and deleted keys skipped; on Euclid and
// Manhattan at 256 dimensions the prefix test is on.
func TestScoreKeys(t *testing.T) {
	for _, d := range []shoalv1.Distance{shoalv1.Distance_DISTANCE_EUCLID, shoalv1.Distance_DISTANCE_MANHATTAN, shoalv1.Distance_DISTANCE_DOT} {
		t.Run(d.String(), func(t *testing.T) {
			ds := makeDataset(t, d, 1500, 256, 17)
			g := build(t, Config{}, ds, 0)
			// Equal vectors under other keys: ties are ordered by key.
			for _, k := range []string{"tie-b", "tie-a", "tie-c"} {
				g.Add(k, ds.vec(7))
			}
			for i := 0; i < len(ds.keys); i += 50 {
				g.Delete(ds.keys[i])
			}
			var keys []string
			for i := 0; i < len(ds.keys); i += 3 {
				keys = append(keys, ds.keys[i])
			}
			keys = append(keys, "missing", "tie-b", "tie-a", "tie-c", ds.keys[7])
			accept := func(k string) bool { return !strings.HasSuffix(k, "9") }
			ref := index.NewFlat(ds.metric, ds.dim)
			for _, k := range keys {
				if v, ok := g.Vector(k); ok && accept(k) {
					ref.Upsert(k, v)
				}
			}
			r := rand.New(rand.NewPCG(3, 4))
			for i := range 40 {
				q := ds.query(r)
				if i%4 == 0 {
					q = ds.vec(7) // the tied points come first
				}
				p := index.SearchParams{Accept: accept}
				if i%5 == 1 {
					th := ref.Search(q, 20, index.SearchParams{})[12].Score
					p.Threshold = &th
				}
				for _, k := range []int{1, 10, 30} {
					got := g.ScoreKeys(q, k, keys, p)
					want := ref.Search(q, k, index.SearchParams{Threshold: p.Threshold})
					if !slices.Equal(got, want) {
						t.Fatalf("query %d k %d:\n got %v\nwant %v", i, k, got, want)
					}
				}
			}
		})
	}
}

// TestTwoHopWalk: at 10 % selectivity the entry's neighbourhood is sparse
// in matches, the two-hop walk is taken, returns only accepted nodes,
// reports itself reliable and finds the true neighbours; at 50 % the
// plain walk is chosen (for most queries: the choice rests on the
// entry's neighbours only).
func TestTwoHopWalk(t *testing.T) {
	ds := makeDataset(t, shoalv1.Distance_DISTANCE_EUCLID, 4000, 32, 5)
	g := build(t, Config{}, ds, 1)
	tenth := func(id uint32) bool { return id%10 == 3 }
	half := func(id uint32) bool { return id%2 == 0 }
	ref := ds.flat(func(i int) bool { return tenth(uint32(i)) })
	r := rand.New(rand.NewPCG(8, 8))
	var sum float64
	var sparse, dense int
	const nq = 50
	for range nq {
		q := ds.query(r)
		g.grow.RLock()
		ep := g.entry.Load()
		cur, top := uint32(ep), int(ep>>32)
		curD := g.sp.dist(q, g.vec(cur))
		for l := top; l > 0; l-- {
			cur, curD = g.greedy(q, cur, curD, l)
		}
		if g.sparseAround(cur, tenth) {
			sparse++
		}
		if !g.sparseAround(cur, half) {
			dense++
		}
		s := g.getSearcher()
		res, reliable := g.searchFiltered(s, q, cand{curD, cur}, 32, tenth)
		var got []index.Hit
		for _, c := range res {
			if !tenth(c.id) {
				t.Fatalf("rejected node %d returned", c.id)
			}
			got = append(got, index.Hit{Key: g.keys[c.id], Score: g.sp.score(c.d)})
		}
		g.putSearcher(s)
		g.grow.RUnlock()
		if !reliable || len(got) < 10 {
			t.Fatalf("10%% walk: %d results, reliable %v", len(got), reliable)
		}
		sum += recall(got[:10], ref.Search(q, 10, index.SearchParams{}))
	}
	if sparse < nq*7/10 || dense < nq*7/10 { // the choice is by a sample of 32
		t.Fatalf("walk choice: sparse %d/%d at 10%%, dense %d/%d at 50%%", sparse, nq, dense, nq)
	}
	if rc := sum / nq; rc < 0.95 {
		t.Fatalf("two-hop walk recall %.3f", rc)
	}
}
