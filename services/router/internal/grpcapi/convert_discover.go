package grpcapi

import (
	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// The discovery and context queries and the legacy discovery request, as
// the service's query types.

// discoverOf converts the query API's DiscoverInput.
func discoverOf(in *qdrant.DiscoverInput) (*service.Discover, error) {
	if in.GetTarget() == nil {
		return nil, apierr.Format("discover: missing field `target`")
	}
	v, id, err := vectorInput(in.GetTarget())
	if err != nil {
		return nil, err
	}
	d := &service.Discover{Target: &service.VectorInput{Vector: v, ID: id}}
	d.Context, err = contextOf(in.GetContext())
	return d, err
}

// contextOf converts a ContextInput's pairs.
func contextOf(in *qdrant.ContextInput) ([]service.ContextPair, error) {
	out := make([]service.ContextPair, len(in.GetPairs()))
	for i, p := range in.GetPairs() {
		if p.GetPositive() == nil || p.GetNegative() == nil {
			return nil, apierr.Format("context: a pair needs `positive` and `negative`")
		}
		var err error
		if out[i].Positive.Vector, out[i].Positive.ID, err = vectorInput(p.GetPositive()); err != nil {
			return nil, err
		}
		if out[i].Negative.Vector, out[i].Negative.ID, err = vectorInput(p.GetNegative()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// vectorExample converts the legacy VectorExample: a point id or a dense
// vector.
func vectorExample(ex *qdrant.VectorExample) (service.VectorInput, error) {
	switch k := ex.GetExample().(type) {
	case *qdrant.VectorExample_Id:
		id, err := pointID(k.Id)
		return service.VectorInput{ID: id}, err
	case *qdrant.VectorExample_Vector:
		d, err := dense(k.Vector)
		return service.VectorInput{Vector: d}, err
	}
	return service.VectorInput{}, apierr.Format("discover: empty vector example")
}

// discoverRequest converts the legacy DiscoverPoints into a discovery
// query (a context query without target).
func discoverRequest(req *qdrant.DiscoverPoints) (service.QueryRequest, error) {
	ks, err := keySelector(req.GetShardKeySelector())
	if err != nil {
		return service.QueryRequest{}, err
	}
	qr := service.QueryRequest{Offset: int(min(req.GetOffset(), service.MaxLimit+1)), Read: readOptions(req.GetWithPayload(), req.GetWithVectors(), false), ShardKey: ks}
	qr.Using, qr.Limit = req.GetUsing(), int(min(req.GetLimit(), service.MaxLimit+1))
	qr.Exact, qr.HnswEf = searchParams(req.GetParams())
	if qr.LookupFrom, err = lookupOf(req.LookupFrom); err != nil {
		return qr, err
	}
	if qr.Filter, err = filterJSON(req.GetFilter()); err != nil {
		return qr, err
	}
	d := &service.Discover{}
	if t := req.GetTarget(); t != nil {
		single, ok := t.GetTarget().(*qdrant.TargetVector_Single)
		if !ok {
			return qr, apierr.Format("discover: empty target")
		}
		ex, err := vectorExample(single.Single)
		if err != nil {
			return qr, err
		}
		d.Target = &ex
	}
	for _, p := range req.GetContext() {
		if p.GetPositive() == nil || p.GetNegative() == nil {
			return qr, apierr.Format("context: a pair needs `positive` and `negative`")
		}
		var pair service.ContextPair
		if pair.Positive, err = vectorExample(p.GetPositive()); err != nil {
			return qr, err
		}
		if pair.Negative, err = vectorExample(p.GetNegative()); err != nil {
			return qr, err
		}
		d.Context = append(d.Context, pair)
	}
	qr.Discover = d
	return qr, nil
}
