package service

import (
	"context"
	"math"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// recommend runs a recommendation stage.
//
// average_vector (the default) searches near 2·avg(positive) −
// avg(negative) (avg(positive) without negatives), as Qdrant does.
//
// best_score and sum_scores score each candidate against every example:
// best_score is the best positive similarity when it beats the best
// negative one, else −(best negative)²; sum_scores is the sum of positive
// similarities minus the sum of negative ones. Similarities are the
// metric's scores, negated for distances (Euclid, Manhattan), so higher is
// always better. Without candidates from prefetches, the candidates are
// the nearest 4·limit points of each positive example (of each negated
// negative example when there are no positives): exact scoring over an
// approximate candidate set, like an HNSW-based recommendation.
//
// Example points never appear in the result.
func (s *Service) recommend(ctx context.Context, c *routing.Collection, st Stage, filter []byte, candidates []*shoalv1.PointID) ([]ScoredPoint, error) {
	r := st.Recommend
	pos, err := s.exampleVectors(ctx, c, st.Using, st.LookupFrom, r.Positive)
	if err != nil {
		return nil, err
	}
	neg, err := s.exampleVectors(ctx, c, st.Using, st.LookupFrom, r.Negative)
	if err != nil {
		return nil, err
	}
	exclude := s.excludedExamples(c, st.LookupFrom, append(append([]VectorInput{}, r.Positive...), r.Negative...))
	if r.Strategy == "" || r.Strategy == "average_vector" {
		q := average(pos)
		if len(neg) > 0 {
			an := average(neg)
			for i := range q {
				q[i] = 2*q[i] - an[i]
			}
		}
		return s.nearest(ctx, c, st, q, filter, exclude)
	}

	if candidates == nil {
		gen := pos
		if len(gen) == 0 {
			for _, v := range neg {
				nv := make([]float32, len(v))
				for i, x := range v {
					nv[i] = -x
				}
				gen = append(gen, nv)
			}
		}
		wide := st
		wide.Limit, wide.ScoreThreshold = min(4*st.Limit+len(exclude), MaxLimit), nil
		lists := make([][]ScoredPoint, len(gen))
		for i, v := range gen {
			if lists[i], err = s.nearest(ctx, c, wide, v, filter, exclude); err != nil {
				return nil, err
			}
		}
		candidates = unionIDs(lists)
	}
	if len(candidates) == 0 {
		return []ScoredPoint{}, nil
	}
	restrict := andFilters(filter, hasIDFilter(candidates))
	sim := func(score float32) float64 { return similarity(c, st.Using, score) }
	posSims, err := s.candidateSims(ctx, c, st.Using, restrict, len(candidates), pos, sim)
	if err != nil {
		return nil, err
	}
	negSims, err := s.candidateSims(ctx, c, st.Using, restrict, len(candidates), neg, sim)
	if err != nil {
		return nil, err
	}
	excluded := map[string]bool{}
	for _, id := range exclude {
		excluded[string(pointid.Key(id))] = true
	}
	scores, ids := map[string]float64{}, map[string]*shoalv1.PointID{}
	for _, id := range candidates {
		key := string(pointid.Key(id))
		if excluded[key] {
			continue
		}
		ps, ns, ok := collect(posSims, key), collect(negSims, key), true
		if len(ps) != len(pos) || len(ns) != len(neg) {
			ok = false // the point lacks the vector, or was deleted meanwhile
		}
		if !ok {
			continue
		}
		ids[key] = id
		if r.Strategy == "sum_scores" {
			scores[key] = sum(ps) - sum(ns)
			continue
		}
		bp, bn := maxOf(ps), maxOf(ns)
		if bp > bn {
			scores[key] = bp
		} else {
			scores[key] = -(bn * bn)
		}
	}
	return ranked(scores, ids, st.Limit, st.ScoreThreshold), nil
}

// candidateSims scores the points matching restrict (at most n of them,
// which restrict selects by id) exactly against every example: one map per
// example from point key to sim(score).
func (s *Service) candidateSims(ctx context.Context, c *routing.Collection, using string, restrict []byte, n int, examples [][]float32, sim func(float32) float64) ([]map[string]float64, error) {
	out := make([]map[string]float64, len(examples))
	for i, v := range examples {
		hits, err := s.search(ctx, c, SearchRequest{Using: using, Vector: v, Limit: n, Exact: true, Filter: restrict}, nil)
		if err != nil {
			return nil, err
		}
		out[i] = make(map[string]float64, len(hits))
		for _, h := range hits {
			out[i][string(pointid.Key(h.ID))] = sim(h.Score)
		}
	}
	return out, nil
}

func average(vs [][]float32) []float32 {
	out := make([]float32, len(vs[0]))
	for _, v := range vs {
		for i, x := range v {
			out[i] += x / float32(len(vs))
		}
	}
	return out
}

func collect(sims []map[string]float64, key string) []float64 {
	var out []float64
	for _, m := range sims {
		if v, ok := m[key]; ok {
			out = append(out, v)
		}
	}
	return out
}

func sum(v []float64) float64 {
	var t float64
	for _, x := range v {
		t += x
	}
	return t
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
