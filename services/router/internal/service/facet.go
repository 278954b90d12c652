package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// FacetHit is one value of a payload field and how many points have it.
type FacetHit struct {
	// Value is a string, an int64 or a bool.
	Value any
	Count uint64
}

// FacetRequest counts the values of a payload field among the points
// matching a filter.
type FacetRequest struct {
	Key    string
	Filter json.RawMessage
	Limit  int
	// ShardKey restricts the request to these shard keys (custom
	// sharding); nil for every shard.
	ShardKey *routing.KeySelector
}

// Facet returns the Limit most frequent values of Key (string, integer
// and bool values; a point with a list counts once per distinct value),
// by count, then by value. Counts are exact: the matching points' values
// are read with a scroll (cost linear in their number).
func (s *Service) Facet(ctx context.Context, collection string, req FacetRequest) ([]FacetHit, error) {
	c, err := s.target(collection, req.ShardKey)
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, apierr.Invalid("key", "must not be empty")
	}
	if err := checkPage(req.Limit, 0); err != nil {
		return nil, err
	}
	filter, err := checkFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	counts := map[string]*FacetHit{}
	params := routing.ScrollParams{Limit: 10000, Read: routing.ReadOptions{WithPayload: true}, Filter: filter}
	for {
		pts, next, err := s.opt.Router.Scroll(ctx, c, params)
		if err != nil {
			return nil, err
		}
		for _, p := range pts {
			seen := map[string]bool{}
			for _, v := range payloadValues(selectPayload(p.GetPayload(), PayloadSelector{Enabled: true, Include: []string{req.Key}}), req.Key) {
				k := fmt.Sprintf("%T:%v", v, v)
				if seen[k] {
					continue
				}
				seen[k] = true
				if counts[k] == nil {
					counts[k] = &FacetHit{Value: v}
				}
				counts[k].Count++
			}
		}
		if next == nil {
			break
		}
		params.Offset = next
	}
	out := make([]FacetHit, 0, len(counts))
	for _, h := range counts {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b FacetHit) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(fmt.Sprint(a.Value), fmt.Sprint(b.Value))
	})
	return out[:min(req.Limit, len(out))], nil
}

// payloadValues returns the string, integer (int64) and bool values at a
// dotted key of a payload object (the elements of a list).
func payloadValues(payload json.RawMessage, key string) []any {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	for _, part := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []any
	for _, x := range list {
		switch t := x.(type) {
		case string, bool:
			out = append(out, t)
		case json.Number:
			if i, err := t.Int64(); err == nil {
				out = append(out, i)
			}
		}
	}
	return out
}
