package service

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// Stage evaluation: every stage yields point ids with scores (no payload);
// the query attaches payload and vectors to the final page.

// evalStage runs a stage under the filters of the stages above it (outer,
// Qdrant filter JSON or nil) and, when candidates is not nil, only over
// those points. It returns at most st.Limit hits, best first.
func (s *Service) evalStage(ctx context.Context, c *routing.Collection, st Stage, outer []byte, candidates []*shoalv1.PointID) ([]ScoredPoint, error) {
	filter, err := checkFilter(st.Filter)
	if err != nil {
		return nil, err
	}
	filter = andFilters(outer, filter)
	if len(st.Prefetch) > 0 {
		lists := make([][]ScoredPoint, len(st.Prefetch))
		for i, p := range st.Prefetch {
			if lists[i], err = s.evalStage(ctx, c, p, filter, nil); err != nil {
				return nil, err
			}
		}
		if st.Fusion != nil {
			return fuse(c, st, lists), nil
		}
		if !hasQuery(st.Query) {
			return lists[0][:min(st.Limit, len(lists[0]))], nil
		}
		candidates = unionIDs(lists)
		if len(candidates) == 0 {
			return []ScoredPoint{}, nil
		}
	}
	if candidates != nil {
		filter = andFilters(filter, hasIDFilter(candidates))
	}
	switch {
	case st.Vector != nil || st.ByID != nil:
		vec, exclude := st.Vector, []*shoalv1.PointID(nil)
		if st.ByID != nil {
			ex := []VectorInput{{ID: st.ByID}}
			v, err := s.exampleVectors(ctx, c, st.Using, st.LookupFrom, ex)
			if err != nil {
				return nil, err
			}
			vec, exclude = v[0], s.excludedExamples(c, st.LookupFrom, ex)
		}
		return s.nearest(ctx, c, st, vec, filter, exclude)
	case st.Recommend != nil:
		return s.recommend(ctx, c, st, filter, candidates)
	case st.Discover != nil:
		return s.discover(ctx, c, st, filter, candidates)
	case st.OrderBy != nil:
		page, err := s.scrollOrderedIDs(ctx, c, st, filter)
		return page, err
	case st.Sample:
		return s.sample(ctx, c, filter, st.Limit)
	}
	page, err := s.scroll(ctx, c, ScrollRequest{Limit: st.Limit, Filter: filter})
	if err != nil {
		return nil, err
	}
	return scoredRecords(page.Points), nil
}

func hasQuery(q Query) bool {
	return q.Vector != nil || q.ByID != nil || q.Recommend != nil || q.Discover != nil || q.Fusion != nil || q.OrderBy != nil || q.Sample
}

func (s *Service) nearest(ctx context.Context, c *routing.Collection, st Stage, vec []float32, filter []byte, exclude []*shoalv1.PointID) ([]ScoredPoint, error) {
	return s.search(ctx, c, SearchRequest{
		Using: st.Using, Vector: vec, Limit: st.Limit, ScoreThreshold: st.ScoreThreshold,
		Exact: st.Exact, HnswEf: st.HnswEf, Filter: filter,
	}, exclude)
}

func (s *Service) scrollOrderedIDs(ctx context.Context, c *routing.Collection, st Stage, filter []byte) ([]ScoredPoint, error) {
	page, err := s.scroll(ctx, c, ScrollRequest{Limit: st.Limit, Filter: filter, OrderBy: st.OrderBy})
	if err != nil {
		return nil, err
	}
	return scoredRecords(page.Points), nil
}

// andFilters is the conjunction of two Qdrant filters (nil is none).
func andFilters(a, b []byte) []byte {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out, _ := json.Marshal(map[string]any{"must": []json.RawMessage{a, b}})
	return out
}

// hasIDFilter selects exactly the given points.
func hasIDFilter(ids []*shoalv1.PointID) []byte {
	list := make([]any, len(ids))
	for i, id := range ids {
		list[i] = pointid.JSON(id)
	}
	out, _ := json.Marshal(map[string]any{"must": []any{map[string]any{"has_id": list}}})
	return out
}

// unionIDs lists every point of the lists once.
func unionIDs(lists [][]ScoredPoint) []*shoalv1.PointID {
	seen := map[string]bool{}
	var out []*shoalv1.PointID
	for _, l := range lists {
		for _, h := range l {
			if k := string(pointid.Key(h.ID)); !seen[k] {
				seen[k] = true
				out = append(out, h.ID)
			}
		}
	}
	return out
}

// similarity turns a score into "higher is better" for the stage's
// vector: distances (Euclid, Manhattan) are negated.
func similarity(c *routing.Collection, using string, score float32) float64 {
	if routing.HigherIsBetter(c.Distance(using)) {
		return float64(score)
	}
	return -float64(score)
}

// fuse combines the prefetches' results. RRF scores a point by its ranks:
// sum of 1 / ((rank+1)/weight + k - 1) (rank from 0, k 2 by default).
// DBSF normalises each list's scores to [0, 1] between mean ± 3 standard
// deviations and sums them. Both give the best first, ties by id, at most
// st.Limit points above st.ScoreThreshold.
func fuse(c *routing.Collection, st Stage, lists [][]ScoredPoint) []ScoredPoint {
	scores := map[string]float64{}
	ids := map[string]*shoalv1.PointID{}
	for i, l := range lists {
		switch st.Fusion.Kind {
		case "rrf":
			k, w := float64(st.Fusion.K), 1.0
			if k == 0 {
				k = 2
			}
			if st.Fusion.Weights != nil {
				w = float64(st.Fusion.Weights[i])
			}
			for rank, h := range l {
				key := string(pointid.Key(h.ID))
				ids[key] = h.ID
				if _, ok := scores[key]; !ok {
					scores[key] = 0
				}
				if w > 0 {
					scores[key] += 1 / (float64(rank+1)/w + k - 1)
				}
			}
		case "dbsf":
			using := st.Prefetch[i].Using
			var sum, sq float64
			for _, h := range l {
				v := similarity(c, using, h.Score)
				sum, sq = sum+v, sq+v*v
			}
			n := float64(len(l))
			mean := sum / max(n, 1)
			std := math.Sqrt(max(sq/max(n, 1)-mean*mean, 0))
			lo, hi := mean-3*std, mean+3*std
			for _, h := range l {
				key := string(pointid.Key(h.ID))
				ids[key] = h.ID
				norm := 0.5
				if hi > lo {
					norm = min(max((similarity(c, using, h.Score)-lo)/(hi-lo), 0), 1)
				}
				scores[key] += norm
			}
		}
	}
	return ranked(scores, ids, st.Limit, st.ScoreThreshold)
}

// ranked sorts scored ids best first (ties by id) and keeps at most limit
// of those at least threshold.
func ranked(scores map[string]float64, ids map[string]*shoalv1.PointID, limit int, threshold *float32) []ScoredPoint {
	out := make([]ScoredPoint, 0, len(scores))
	for k, v := range scores {
		if threshold != nil && v < float64(*threshold) {
			continue
		}
		out = append(out, ScoredPoint{Record: Record{ID: ids[k]}, Score: float32(v)})
	}
	slices.SortFunc(out, func(a, b ScoredPoint) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return pointid.Compare(a.ID, b.ID)
	})
	return out[:min(limit, len(out))]
}

// sample draws up to limit points uniformly at random among those
// matching filter: the matching ids are scrolled (ids only) and reservoir
// sampled. Cost is linear in the number of matching points.
func (s *Service) sample(ctx context.Context, c *routing.Collection, filter []byte, limit int) ([]ScoredPoint, error) {
	const page = 10000
	var reservoir []*shoalv1.PointID
	seen := 0
	var offset *shoalv1.PointID
	for {
		pts, next, err := s.opt.Router.Scroll(ctx, c, routing.ScrollParams{Offset: offset, Limit: page, Filter: filter})
		if err != nil {
			return nil, err
		}
		for _, p := range pts {
			seen++
			if len(reservoir) < limit {
				reservoir = append(reservoir, p.GetId())
			} else if j := rand.IntN(seen); j < limit {
				reservoir[j] = p.GetId()
			}
		}
		if next == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, apierr.FromConnect(ctx.Err(), "sample")
		}
		offset = next
	}
	rand.Shuffle(len(reservoir), func(i, j int) { reservoir[i], reservoir[j] = reservoir[j], reservoir[i] })
	out := make([]ScoredPoint, len(reservoir))
	for i, id := range reservoir {
		out[i] = ScoredPoint{Record: Record{ID: id}}
	}
	return out, nil
}
