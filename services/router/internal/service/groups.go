package service

import (
	"context"
	"fmt"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// GroupsRequest is a query whose results are grouped by a payload field:
// Limit groups of at most GroupSize hits each.
type GroupsRequest struct {
	QueryRequest
	GroupBy   string
	GroupSize int
	// WithLookup, when set, attaches to each group the point of another
	// collection whose id is the group's id.
	WithLookup *WithLookup
}

// PointGroup is one group: the field's value (a string, or an int64 for
// integers) and its best hits.
type PointGroup struct {
	ID   any
	Hits []ScoredPoint
	// Lookup is the looked-up point (WithLookup), nil when none.
	Lookup *Record
}

// maxGroupRounds bounds how many times a grouped query widens its search
// for groups that are not full yet.
const maxGroupRounds = 4

// QueryGroups runs a query and groups its hits by the payload field
// GroupBy (string and integer values; a point with a list joins the group
// of every value): groups in the order of their best hit, each with its
// GroupSize best hits. The query asks for Limit·GroupSize hits and widens
// (×4, at most maxGroupRounds times) until Limit groups are full or the
// collection has no more hits.
func (s *Service) QueryGroups(ctx context.Context, collection string, req GroupsRequest) ([]PointGroup, error) {
	c, err := s.target(collection, req.ShardKey)
	if err != nil {
		return nil, err
	}
	if req.GroupBy == "" {
		return nil, apierr.Invalid("group_by", "must not be empty")
	}
	if req.GroupSize < 1 || req.GroupSize > MaxLimit {
		return nil, apierr.Invalid("group_size", "value %d invalid, must be from 1 to %d", req.GroupSize, MaxLimit)
	}
	if err := checkPage(req.Limit, 0); err != nil {
		return nil, err
	}
	if err := checkStage(c, req.Stage, 0); err != nil {
		return nil, err
	}
	if w := req.WithLookup; w != nil && w.Collection == "" {
		return nil, apierr.Invalid("with_lookup.collection", "must not be empty")
	}
	fetch := min(req.Limit*req.GroupSize, MaxLimit)
	var groups []PointGroup
	for round := 0; ; round++ {
		st := req.Stage
		st.Limit = fetch
		hits, err := s.evalStage(ctx, c, st, nil, nil)
		if err != nil {
			return nil, err
		}
		keyed, err := s.withReadOptions(ctx, c, hits, ReadOptions{Payload: PayloadSelector{Enabled: true, Include: []string{req.GroupBy}}})
		if err != nil {
			return nil, err
		}
		var full bool
		groups, full = group(keyed, req.GroupBy, req.Limit, req.GroupSize)
		if full || len(hits) < fetch || fetch >= MaxLimit || round+1 >= maxGroupRounds {
			break
		}
		fetch = min(fetch*4, MaxLimit)
	}
	for i := range groups {
		if groups[i].Hits, err = s.withReadOptions(ctx, c, groups[i].Hits, req.Read); err != nil {
			return nil, err
		}
	}
	if req.WithLookup != nil {
		if err := s.lookupGroups(ctx, req.WithLookup, groups); err != nil {
			return nil, err
		}
	}
	return groups, nil
}

// group buckets hits (best first) by their value at key; it reports
// whether limit groups of size hits were filled.
func group(hits []ScoredPoint, key string, limit, size int) ([]PointGroup, bool) {
	var groups []PointGroup
	index := map[string]int{}
	for _, h := range hits {
		for _, v := range payloadValues(h.Payload, key) {
			if _, isBool := v.(bool); isBool {
				continue // Qdrant groups by strings and integers
			}
			k := fmt.Sprintf("%T:%v", v, v)
			i, ok := index[k]
			if !ok {
				if len(groups) == limit {
					continue
				}
				i = len(groups)
				index[k] = i
				groups = append(groups, PointGroup{ID: v})
			}
			if len(groups[i].Hits) < size {
				hit := h
				hit.Payload = nil
				groups[i].Hits = append(groups[i].Hits, hit)
			}
		}
	}
	full := len(groups) == limit
	for _, g := range groups {
		full = full && len(g.Hits) == size
	}
	return groups, full
}
