package replica

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

type refHit struct {
	id    uint64
	score float64
}

// refScore is a plain float64 implementation of Qdrant's reported scores.
func refScore(d shoalv1.Distance, q, v []float32) float64 {
	var dot, qq, vv, l2, l1 float64
	for i := range q {
		a, b := float64(q[i]), float64(v[i])
		dot += a * b
		qq += a * a
		vv += b * b
		l2 += (a - b) * (a - b)
		l1 += math.Abs(a - b)
	}
	switch d {
	case shoalv1.Distance_DISTANCE_COSINE:
		if qq == 0 || vv == 0 {
			return 0
		}
		return dot / math.Sqrt(qq*vv)
	case shoalv1.Distance_DISTANCE_DOT:
		return dot
	case shoalv1.Distance_DISTANCE_EUCLID:
		return math.Sqrt(l2)
	}
	return l1
}

func lowerIsBetter(d shoalv1.Distance) bool {
	return d == shoalv1.Distance_DISTANCE_EUCLID || d == shoalv1.Distance_DISTANCE_MANHATTAN
}

// TestSearchMatchesBruteForce checks top-k and score_threshold against a
// brute-force ranking for every distance. Vector components are small
// integers, so Dot, Euclid and Manhattan scores are exact and ties (broken
// by id) are frequent; Cosine is compared with a tolerance.
func TestSearchMatchesBruteForce(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	f := func(d shoalv1.Distance, dim int) {
		t.Helper()
		r, _ := openTest(t, single(uint64(dim), d), Options{})
		vec := func() []float32 {
			v := make([]float32, dim)
			for i := range v {
				v[i] = float32(rng.IntN(7) - 3)
			}
			return v
		}
		stored := map[uint64][]float32{}
		var batch []*shoalv1.Point
		for id := uint64(0); id < 400; id++ {
			v := vec()
			stored[id] = v
			batch = append(batch, point(id, `{"id":1}`, map[string][]float32{"": v}))
		}
		mustApply(t, r, upsertOp(batch...))
		// Delete some so that the index has swapped slots around.
		var del []*shoalv1.PointID
		for id := uint64(0); id < 400; id += 7 {
			del = append(del, pointid.Num(id))
			delete(stored, id)
		}
		mustApply(t, r, deleteOp(del...))

		exact := d != shoalv1.Distance_DISTANCE_COSINE
		for range 10 {
			q := vec()
			var ref []refHit
			for id, v := range stored {
				// Scores are reported as float32.
				ref = append(ref, refHit{id, float64(float32(refScore(d, q, v)))})
			}
			slices.SortFunc(ref, func(a, b refHit) int {
				if a.score != b.score {
					if (a.score < b.score) == lowerIsBetter(d) {
						return -1
					}
					return 1
				}
				return int(a.id) - int(b.id)
			})
			threshold := float32(ref[20].score)
			for _, th := range []*float32{nil, &threshold} {
				want := ref
				if th != nil {
					want = slices.DeleteFunc(slices.Clone(ref), func(h refHit) bool {
						if lowerIsBetter(d) {
							return h.score > float64(*th)
						}
						return h.score < float64(*th)
					})
				}
				const limit = 15
				want = want[:min(limit, len(want))]
				got, err := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: q}, Limit: limit, ScoreThreshold: th, WithPayload: true})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) && (exact || th == nil) {
					t.Fatalf("%v dim %d: %d hits, want %d", d, dim, len(got), len(want))
				}
				for i, h := range got {
					id := h.Point.GetId().GetNum()
					if h.Point.Payload == nil {
						t.Fatalf("%v: payload missing", d)
					}
					if exact {
						if id != want[i].id || float64(h.Score) != want[i].score {
							t.Fatalf("%v dim %d rank %d: got (%d, %v), want (%d, %v)", d, dim, i, id, h.Score, want[i].id, want[i].score)
						}
						continue
					}
					// Cosine: the score at each rank and the score of the
					// returned point must both agree with the reference.
					if math.Abs(float64(h.Score)-want[i].score) > 1e-5 || math.Abs(float64(h.Score)-refScore(d, q, stored[id])) > 1e-5 {
						t.Fatalf("%v dim %d rank %d: got (%d, %v), want score %v", d, dim, i, id, h.Score, want[i].score)
					}
				}
			}
		}
	}
	for _, d := range []shoalv1.Distance{shoalv1.Distance_DISTANCE_COSINE, shoalv1.Distance_DISTANCE_DOT, shoalv1.Distance_DISTANCE_EUCLID, shoalv1.Distance_DISTANCE_MANHATTAN} {
		f(d, 5)
		f(d, 8)
	}
}

func TestSearchLimitAndVectors(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, single(2, shoalv1.Distance_DISTANCE_COSINE), Options{})
	mustApply(t, r, upsertOp(point(1, ``, map[string][]float32{"": {3, 4}}), point(2, ``, map[string][]float32{"": {1, 0}})))
	got, err := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{10, 0}}, Limit: 1, WithVector: all})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Point.Id.GetNum() != 2 || got[0].Score != 1 || got[0].Point.Payload != nil {
		t.Fatalf("limit 1: %v", got)
	}
	if got, _ := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{0, 1}}, Limit: 5, WithVector: all}); !slices.Equal(got[0].Point.Vectors[""].Data, []float32{0.6, 0.8}) {
		t.Fatalf("cosine vector not returned normalised: %v", got)
	}
	if got, err := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{0, 1}}, Limit: 0}); err != nil || len(got) != 0 {
		t.Fatalf("limit 0: %v %v", got, err)
	}
}
