package service

import (
	"context"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// LookupLocation is Qdrant's lookup_from: point ids given as examples
// (nearest by id, recommend, discover, context) name points of Collection
// (or an alias), whose vector Vector ("" is the default vector) is the
// example. The vectors must fit the searched vector's dimension.
type LookupLocation struct {
	Collection string
	Vector     string
	// ShardKey restricts the lookup to these shard keys of Collection
	// (custom sharding); nil for every shard.
	ShardKey *routing.KeySelector
}

// WithLookup is Qdrant's with_lookup for grouped queries: every group's
// id is looked up as a point id in Collection and shown with Read.
type WithLookup struct {
	Collection string
	Read       ReadOptions
}

// exampleVectors resolves examples to vectors: given vectors as they are,
// point ids to the points' vectors named using, or, with a lookup, to the
// vectors named lookup.Vector of the points of lookup.Collection (NotFound
// for a missing point or collection).
func (s *Service) exampleVectors(ctx context.Context, c *routing.Collection, using string, lookup *LookupLocation, examples []VectorInput) ([][]float32, error) {
	var ids []*shoalv1.PointID
	for _, ex := range examples {
		if ex.ID != nil {
			ids = append(ids, ex.ID)
		}
	}
	src, name := c, using
	if lookup != nil && len(ids) > 0 {
		var err error
		if src, err = s.target(lookup.Collection, lookup.ShardKey); err != nil {
			return nil, err
		}
		name = lookup.Vector
		if _, ok := src.Meta.GetConfig().GetVectors()[name]; !ok {
			return nil, apierr.BadInput("Not existing vector name error: %s", name)
		}
	}
	byKey := map[string][]float32{}
	if len(ids) > 0 {
		pts, err := s.opt.Router.Get(ctx, src, dedupeIDs(ids), routing.ReadOptions{WithVector: &shoalv1.WithVector{Names: []string{name}}})
		if err != nil {
			return nil, err
		}
		for _, p := range pts {
			if v, ok := p.GetVectors()[name]; ok {
				byKey[string(pointid.Key(p.GetId()))] = v.GetData()
			}
		}
	}
	out := make([][]float32, len(examples))
	for i, ex := range examples {
		if ex.ID == nil {
			out[i] = ex.Vector
			continue
		}
		v, ok := byKey[string(pointid.Key(ex.ID))]
		if !ok {
			return nil, apierr.Missing("Point with id %s does not exists!", pointid.String(ex.ID))
		}
		if src != c {
			if err := checkVector(c, using, v); err != nil {
				return nil, err
			}
		}
		out[i] = v
	}
	return out, nil
}

// excludedExamples lists the point ids among examples that must not appear
// in the result: all of them, unless they were looked up in another
// collection.
func (s *Service) excludedExamples(c *routing.Collection, lookup *LookupLocation, examples []VectorInput) []*shoalv1.PointID {
	if lookup != nil && s.resolveName(lookup.Collection) != c.Meta.GetName() {
		return nil
	}
	var out []*shoalv1.PointID
	for _, ex := range examples {
		if ex.ID != nil {
			out = append(out, ex.ID)
		}
	}
	return out
}

// checkLookup validates a lookup_from.
func checkLookup(l *LookupLocation) error {
	if l != nil && l.Collection == "" {
		return apierr.Invalid("lookup_from.collection", "must not be empty")
	}
	return nil
}

// lookupGroups attaches to every group the point of w.Collection whose id
// is the group's id (groups whose id is not a valid point id, or names no
// point, get none).
func (s *Service) lookupGroups(ctx context.Context, w *WithLookup, groups []PointGroup) error {
	src, err := s.resolve(w.Collection)
	if err != nil {
		return err
	}
	ro, err := readOptions(src, w.Read)
	if err != nil {
		return err
	}
	var ids []*shoalv1.PointID
	idOf := make([]*shoalv1.PointID, len(groups))
	for i, g := range groups {
		switch v := g.ID.(type) {
		case int64:
			if v >= 0 {
				idOf[i] = pointid.Num(uint64(v))
			}
		case string:
			if id, err := pointid.ParseString(v); err == nil {
				idOf[i] = id
			}
		}
		if idOf[i] != nil {
			ids = append(ids, idOf[i])
		}
	}
	if len(ids) == 0 {
		return nil
	}
	pts, err := s.opt.Router.Get(ctx, src, dedupeIDs(ids), ro)
	if err != nil {
		return err
	}
	byKey := make(map[string]*shoalv1.Point, len(pts))
	for _, p := range pts {
		byKey[string(pointid.Key(p.GetId()))] = p
	}
	for i := range groups {
		if idOf[i] == nil {
			continue
		}
		if p, ok := byKey[string(pointid.Key(idOf[i]))]; ok {
			r := toRecord(p, w.Read)
			groups[i].Lookup = &r
		}
	}
	return nil
}
