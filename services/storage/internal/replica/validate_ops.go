package replica

import (
	"errors"
	"sort"
	"strings"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/payloadindex"
)

// selector is a PointSelector checked ahead of the commit: the ids (as
// storage keys, deduplicated, in request order) or the parsed filter.
// A filter is resolved at apply time, in log order.
type selector struct {
	keys   []string
	ids    map[string]*shoalv1.PointID
	filter *filter.Filter
}

// parseSelector checks a selector. Like Qdrant, ids win when both are
// given; neither (or a null filter) is an error unless emptyOK (a delete
// by an empty id list is a no-op). An empty filter `{}` selects every
// point.
func parseSelector(ids []*shoalv1.PointID, filterJSON []byte, emptyOK bool) (*selector, error) {
	sel := &selector{ids: map[string]*shoalv1.PointID{}}
	if len(ids) > 0 {
		for _, id := range ids {
			key, err := keyOf(id)
			if err != nil {
				return nil, err
			}
			if _, dup := sel.ids[key]; !dup {
				sel.ids[key] = id
				sel.keys = append(sel.keys, key)
			}
		}
		return sel, nil
	}
	f, err := parseFilter(filterJSON)
	if err != nil {
		return nil, err
	}
	if f == nil && !emptyOK {
		return nil, invalidf("Bad request: No points or filter specified")
	}
	sel.filter = f
	return sel, nil
}

// parseFilter parses filter JSON into a *ValidationError on failure.
func parseFilter(raw []byte) (*filter.Filter, error) {
	f, err := filter.Parse(raw)
	if err != nil {
		var fe *filter.Error
		if errors.As(err, &fe) {
			return nil, &ValidationError{Msg: fe.Error()}
		}
		return nil, invalidf("Format error in JSON body: filter: %v", err)
	}
	return f, nil
}

// parseKeyPath parses a payload key given in an operation.
func parseKeyPath(s, what string) (filter.Path, error) {
	p, err := filter.ParsePath(s)
	if err != nil {
		return filter.Path{}, invalidf("Format error in JSON body: %s: %v", what, err)
	}
	return p, nil
}

// preparePayload checks set_payload / overwrite_payload.
func (p *prepared) preparePayload(sp *shoalv1.SetPayload) error {
	sel, err := parseSelector(sp.GetSelector().GetIds(), sp.GetSelector().GetFilter(), false)
	if err != nil {
		return err
	}
	p.sel = sel
	raw := sp.GetPayload()
	if !isJSONObject(raw) {
		return invalidf("Format error in JSON body: payload must be a JSON object")
	}
	if p.payload, err = filter.DecodePayload(raw); err != nil {
		return invalidf("Format error in JSON body: payload: %v", err)
	}
	if sp.GetKey() != "" {
		key, err := parseKeyPath(sp.GetKey(), "key")
		if err != nil {
			return err
		}
		p.key = &key
	}
	return nil
}

func (p *prepared) prepareDeletePayload(dp *shoalv1.DeletePayload) error {
	sel, err := parseSelector(dp.GetSelector().GetIds(), dp.GetSelector().GetFilter(), false)
	if err != nil {
		return err
	}
	p.sel = sel
	for _, k := range dp.GetKeys() {
		path, err := parseKeyPath(k, "keys")
		if err != nil {
			return err
		}
		p.paths = append(p.paths, path)
	}
	return nil
}

// prepareCondition checks the update_filter and update_mode of an upsert
// (or the update_filter of update_vectors, whose mode is always upsert).
func (p *prepared) prepareCondition(updateFilter []byte, mode shoalv1.UpdateMode) error {
	switch mode {
	case shoalv1.UpdateMode_UPDATE_MODE_UPSERT, shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY, shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY:
	default:
		return invalidf("Format error in JSON body: update_mode: unknown variant %d, expected one of `upsert`, `insert_only`, `update_only`", int32(mode))
	}
	p.mode = mode
	if len(updateFilter) == 0 {
		return nil
	}
	f, err := filter.Parse(updateFilter)
	if err != nil {
		var fe *filter.Error
		if errors.As(err, &fe) {
			// Name the request's member, not the filter of a selector.
			at := fe.At
			if strings.HasPrefix(at, "filter") {
				at = "update_" + at
			}
			return &ValidationError{Msg: (&filter.Error{At: at, Msg: fe.Msg}).Error()}
		}
		return invalidf("Format error in JSON body: update_filter: %v", err)
	}
	p.updateFilter = f
	return nil
}

// prepareUpdateVectors checks update_vectors and returns the op to log
// (vectors normalised for Cosine).
func (r *Replica) prepareUpdateVectors(p *prepared, uv *shoalv1.UpdateVectors) (*shoalv1.Operation, error) {
	if len(uv.GetPoints()) == 0 {
		return nil, invalidf("Validation error in JSON body: [points: must have at least 1 item]")
	}
	if err := p.prepareCondition(uv.GetUpdateFilter(), shoalv1.UpdateMode_UPDATE_MODE_UPSERT); err != nil {
		return nil, err
	}
	logged := &shoalv1.UpdateVectors{UpdateFilter: uv.GetUpdateFilter()}
	for i, pv := range uv.GetPoints() {
		if pv == nil {
			return nil, invalidf("Wrong input: point %d is empty", i)
		}
		key, err := keyOf(pv.GetId())
		if err != nil {
			return nil, err
		}
		if len(pv.GetVectors()) == 0 {
			return nil, invalidf("Wrong input: point %s: no vectors to update", pointid.String(pv.GetId()))
		}
		u := vectorUpdate{key: key, id: pv.GetId(), vectors: map[string][]float32{}}
		out := &shoalv1.PointVectors{Id: pv.GetId(), Vectors: map[string]*shoalv1.Vector{}}
		for name, v := range pv.GetVectors() {
			data, err := r.prepareVector(pointid.String(pv.GetId()), name, v.GetData(), p.replicated)
			if err != nil {
				return nil, err
			}
			u.vectors[name] = data
			out.Vectors[name] = &shoalv1.Vector{Data: data}
		}
		p.vectors = append(p.vectors, u)
		logged.Points = append(logged.Points, out)
	}
	return &shoalv1.Operation{Kind: &shoalv1.Operation_UpdateVectors{UpdateVectors: logged}}, nil
}

func (r *Replica) prepareDeleteVectors(p *prepared, dv *shoalv1.DeleteVectors) error {
	sel, err := parseSelector(dv.GetSelector().GetIds(), dv.GetSelector().GetFilter(), false)
	if err != nil {
		return err
	}
	p.sel = sel
	if len(dv.GetNames()) == 0 {
		return invalidf("Validation error in JSON body: [vector: must have at least 1 item]")
	}
	seen := map[string]bool{}
	for _, n := range dv.GetNames() {
		if _, ok := r.vs().spaces[n]; !ok && !p.replicated {
			return invalidf("Wrong input: Not existing vector name error: %s", n)
		}
		if !seen[n] {
			seen[n] = true
			p.names = append(p.names, n)
		}
	}
	sort.Strings(p.names)
	return nil
}

func (p *prepared) prepareCreateIndex(ci *shoalv1.CreateFieldIndex) error {
	field, err := parseKeyPath(ci.GetField(), "field_name")
	if err != nil {
		return err
	}
	schema, err := payloadindex.ParseSchema(ci.GetSchemaJson())
	if err != nil {
		return &ValidationError{Msg: err.Error()}
	}
	p.field, p.schema = field, schema
	return nil
}
