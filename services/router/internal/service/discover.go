package service

import (
	"context"
	"math"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// discover runs a discovery or context stage with Qdrant's scoring.
//
// Similarities are Qdrant's internal scores: the metric's score for Cosine
// and Dot, −distance² for Euclid, −distance for Manhattan.
//
// Discovery (a target): a point's rank is the sum over pairs of +1 when
// sim(positive) > sim(negative), else −1; its score is rank +
// (1 + s/(1+|s|))/2 with s = sim(target), so points rank by the number of
// satisfied pairs, then by similarity to the target. Without pairs it is a
// nearest search by the target (plain scores), as in Qdrant.
//
// Context (no target): a point scores Σ min(0, sim(positive) −
// sim(negative)); 0 means every pair is satisfied.
//
// Candidates: the given ones (a prefetch's results), else the nearest
// 4·limit points (plus the examples, left out afterwards) of the target and
// of each pair's positive example (each positive for a context query). The
// candidates are scored exactly; the approximation is the candidate set,
// as in the recommend strategies. Example points never appear in the
// result.
func (s *Service) discover(ctx context.Context, c *routing.Collection, st Stage, filter []byte, candidates []*shoalv1.PointID) ([]ScoredPoint, error) {
	d := st.Discover
	var examples []VectorInput
	if d.Target != nil {
		examples = append(examples, *d.Target)
	}
	for _, p := range d.Context {
		examples = append(examples, p.Positive, p.Negative)
	}
	vecs, err := s.exampleVectors(ctx, c, st.Using, st.LookupFrom, examples)
	if err != nil {
		return nil, err
	}
	exclude := s.excludedExamples(c, st.LookupFrom, examples)
	if d.Target != nil && len(d.Context) == 0 {
		return s.nearest(ctx, c, st, vecs[0], filter, exclude)
	}
	var target []float32
	if d.Target != nil {
		target, vecs = vecs[0], vecs[1:]
	}

	if candidates == nil {
		gen := [][]float32{}
		if target != nil {
			gen = append(gen, target)
		}
		for i := 0; i < len(vecs); i += 2 {
			gen = append(gen, vecs[i])
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
	sim := func(score float32) float64 { return rawSimilarity(c, st.Using, score) }
	pairSims, err := s.candidateSims(ctx, c, st.Using, restrict, len(candidates), vecs, sim)
	if err != nil {
		return nil, err
	}
	var targetSims map[string]float64
	if target != nil {
		ts, err := s.candidateSims(ctx, c, st.Using, restrict, len(candidates), [][]float32{target}, sim)
		if err != nil {
			return nil, err
		}
		targetSims = ts[0]
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
		score, ok := discoveryScore(key, pairSims, targetSims, target != nil)
		if !ok {
			continue // the point lacks the vector, or was deleted meanwhile
		}
		scores[key], ids[key] = score, id
	}
	return ranked(scores, ids, st.Limit, st.ScoreThreshold), nil
}

// discoveryScore scores one point from its similarities to the pairs'
// examples (positive, negative, positive, …) and, for discovery, to the
// target. ok is false when a similarity is missing.
func discoveryScore(key string, pairSims []map[string]float64, targetSims map[string]float64, discovery bool) (float64, bool) {
	var rank, loss float64
	for i := 0; i+1 < len(pairSims); i += 2 {
		p, okP := pairSims[i][key]
		n, okN := pairSims[i+1][key]
		if !okP || !okN {
			return 0, false
		}
		if p > n {
			rank++
		} else {
			rank--
		}
		loss += min(0, p-n)
	}
	if !discovery {
		return loss, true
	}
	t, ok := targetSims[key]
	if !ok {
		return 0, false
	}
	return rank + scaledSigmoid(t), true
}

// scaledSigmoid maps a similarity into (0, 1), keeping its order.
func scaledSigmoid(x float64) float64 {
	return 0.5 * (x/(1+math.Abs(x)) + 1)
}

// rawSimilarity is Qdrant's internal similarity for a score the storage
// returns: the score for Cosine and Dot, −distance² for Euclid, −distance
// for Manhattan.
func rawSimilarity(c *routing.Collection, using string, score float32) float64 {
	switch c.Distance(using) {
	case shoalv1.Distance_DISTANCE_EUCLID:
		return -float64(score) * float64(score)
	case shoalv1.Distance_DISTANCE_MANHATTAN:
		return -float64(score)
	}
	return float64(score)
}

// checkDiscover validates a discovery or context query's examples.
func checkDiscover(c *routing.Collection, using string, d *Discover) error {
	if d.Target == nil && len(d.Context) == 0 {
		return apierr.BadInput("At least one context pair is required for a context query")
	}
	examples := []VectorInput{}
	if d.Target != nil {
		examples = append(examples, *d.Target)
	}
	for _, p := range d.Context {
		examples = append(examples, p.Positive, p.Negative)
	}
	for _, ex := range examples {
		if ex.ID == nil {
			if err := checkVector(c, using, ex.Vector); err != nil {
				return err
			}
		}
	}
	return nil
}
