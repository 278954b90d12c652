package service

import (
	"math"
	"slices"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// checkVector validates one vector against the collection's vector name:
// the name must exist, the dimension must match and every value must be
// finite. Messages follow Qdrant's.
func checkVector(c *routing.Collection, name string, v []float32) error {
	p, ok := c.Meta.GetConfig().GetVectors()[name]
	if !ok {
		return apierr.BadInput("Not existing vector name error: %s", name)
	}
	if uint64(len(v)) != p.GetSize() {
		return apierr.BadInput("Vector dimension error: expected dim: %d, got %d", p.GetSize(), len(v))
	}
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return apierr.BadInput("vector `%s` contains NaN or infinite values", name)
		}
	}
	return nil
}

// checkPointVectors validates a point's vectors. A collection with a single
// unnamed vector needs it; a collection with named vectors accepts any
// subset of them.
func checkPointVectors(c *routing.Collection, vectors map[string][]float32) error {
	names := make([]string, 0, len(vectors))
	for name := range vectors {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := checkVector(c, name, vectors[name]); err != nil {
			return err
		}
	}
	if !c.Meta.GetConfig().GetNamed() {
		if _, ok := vectors[""]; !ok && len(c.Meta.GetConfig().GetVectors()) > 0 {
			return apierr.BadInput("Vector is missing: the collection has one unnamed vector")
		}
	}
	return nil
}

// withVector converts a selector to the storage form (nil: no vectors),
// checking that the named vectors exist.
func withVector(c *routing.Collection, sel VectorSelector) (*shoalv1.WithVector, error) {
	if sel.All {
		return &shoalv1.WithVector{All: true}, nil
	}
	if len(sel.Names) == 0 {
		return nil, nil
	}
	for _, n := range sel.Names {
		if _, ok := c.Meta.GetConfig().GetVectors()[n]; !ok {
			return nil, apierr.BadInput("Not existing vector name error: %s", n)
		}
	}
	return &shoalv1.WithVector{Names: slices.Clone(sel.Names)}, nil
}

// readOptions converts a service selection to the storage form.
func readOptions(c *routing.Collection, opt ReadOptions) (routing.ReadOptions, error) {
	wv, err := withVector(c, opt.Vector)
	if err != nil {
		return routing.ReadOptions{}, err
	}
	return routing.ReadOptions{WithPayload: opt.Payload.Enabled, WithVector: wv}, nil
}

// toRecord converts a stored point to a Record under a selection.
func toRecord(p *shoalv1.Point, opt ReadOptions) Record {
	r := Record{ID: p.GetId(), Version: p.GetVersion()}
	if opt.Payload.Enabled {
		r.Payload = selectPayload(p.GetPayload(), opt.Payload)
	}
	if opt.Vector.All || len(opt.Vector.Names) > 0 {
		r.Vectors = map[string][]float32{}
		for name, v := range p.GetVectors() {
			if opt.Vector.All || slices.Contains(opt.Vector.Names, name) {
				r.Vectors[name] = v.GetData()
			}
		}
	}
	return r
}
