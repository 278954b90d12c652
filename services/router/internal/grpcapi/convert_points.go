package grpcapi

import (
	"math"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Point ids, vectors, selectors and results between the gRPC messages and
// the service's types.

func pointID(id *qdrant.PointId) (*shoalv1.PointID, error) {
	switch k := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return pointid.Num(k.Num), nil
	case *qdrant.PointId_Uuid:
		pid, err := pointid.ParseString(k.Uuid)
		if err != nil || pid.GetUuid() == "" {
			return nil, apierr.Format("unable to parse UUID: %s", k.Uuid)
		}
		return pid, nil
	}
	return nil, apierr.Format("missing point id")
}

func pointIDs(ids []*qdrant.PointId) ([]*shoalv1.PointID, error) {
	out := make([]*shoalv1.PointID, len(ids))
	for i, id := range ids {
		var err error
		if out[i], err = pointID(id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func qdrantID(id *shoalv1.PointID) *qdrant.PointId {
	if id == nil {
		return nil
	}
	if u := id.GetUuid(); u != "" {
		return qdrant.NewIDUUID(u)
	}
	return qdrant.NewIDNum(id.GetNum())
}

// dense returns a Vector's dense values; sparse, multi-dense and inference
// vectors are not supported yet.
func dense(v *qdrant.Vector) ([]float32, error) {
	switch k := v.GetVector().(type) {
	case *qdrant.Vector_Dense:
		return finite(k.Dense.GetData())
	case *qdrant.Vector_Sparse:
		return nil, apierr.Unsupported("sparse vectors")
	case *qdrant.Vector_MultiDense:
		return nil, apierr.Unsupported("multivectors")
	case *qdrant.Vector_Document, *qdrant.Vector_Image, *qdrant.Vector_Object:
		return nil, apierr.Unsupported("inference (Document, Image and Object vectors)")
	}
	// The deprecated form: data (+ indices for sparse, vectors_count for
	// multi-dense).
	switch {
	case v.GetIndices() != nil:
		return nil, apierr.Unsupported("sparse vectors")
	case v.VectorsCount != nil && v.GetVectorsCount() > 1:
		return nil, apierr.Unsupported("multivectors")
	}
	return finite(v.GetData())
}

func finite(v []float32) ([]float32, error) {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, apierr.Format("vector contains NaN or infinite values")
		}
	}
	if v == nil {
		v = []float32{}
	}
	return v, nil
}

// vectors converts a point's Vectors: a single vector is the unnamed one
// (""), named vectors keep their names.
func vectors(v *qdrant.Vectors) (map[string][]float32, error) {
	switch k := v.GetVectorsOptions().(type) {
	case *qdrant.Vectors_Vector:
		d, err := dense(k.Vector)
		if err != nil {
			return nil, err
		}
		return map[string][]float32{"": d}, nil
	case *qdrant.Vectors_Vectors:
		out := make(map[string][]float32, len(k.Vectors.GetVectors()))
		for name, vec := range k.Vectors.GetVectors() {
			d, err := dense(vec)
			if err != nil {
				return nil, err
			}
			out[name] = d
		}
		return out, nil
	}
	return nil, apierr.Format("missing field `vectors`")
}

// vectorsOutput renders a record's vectors (nil when not requested).
func vectorsOutput(v map[string][]float32) *qdrant.VectorsOutput {
	if v == nil {
		return nil
	}
	out := func(d []float32) *qdrant.VectorOutput {
		return &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Dense{Dense: &qdrant.DenseVector{Data: d}}}
	}
	if plain, ok := v[""]; ok && len(v) == 1 {
		return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vector{Vector: out(plain)}}
	}
	named := make(map[string]*qdrant.VectorOutput, len(v))
	for name, d := range v {
		named[name] = out(d)
	}
	return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vectors{Vectors: &qdrant.NamedVectorsOutput{Vectors: named}}}
}

// withPayload converts a payload selector; nil gives def.
func withPayload(s *qdrant.WithPayloadSelector, def bool) service.PayloadSelector {
	switch k := s.GetSelectorOptions().(type) {
	case *qdrant.WithPayloadSelector_Enable:
		return service.PayloadSelector{Enabled: k.Enable}
	case *qdrant.WithPayloadSelector_Include:
		return service.PayloadSelector{Enabled: true, Include: nonNil(k.Include.GetFields())}
	case *qdrant.WithPayloadSelector_Exclude:
		return service.PayloadSelector{Enabled: true, Exclude: k.Exclude.GetFields()}
	}
	return service.PayloadSelector{Enabled: def}
}

// withVectors converts a vector selector; nil gives def.
func withVectors(s *qdrant.WithVectorsSelector, def bool) service.VectorSelector {
	switch k := s.GetSelectorOptions().(type) {
	case *qdrant.WithVectorsSelector_Enable:
		return service.VectorSelector{All: k.Enable}
	case *qdrant.WithVectorsSelector_Include:
		return service.VectorSelector{Names: k.Include.GetNames()}
	}
	return service.VectorSelector{All: def}
}

func readOptions(p *qdrant.WithPayloadSelector, v *qdrant.WithVectorsSelector, payloadDef bool) service.ReadOptions {
	return service.ReadOptions{Payload: withPayload(p, payloadDef), Vector: withVectors(v, false)}
}

// selector converts a PointsSelector: ids or a filter.
func selector(s *qdrant.PointsSelector) (service.PointSelector, error) {
	switch k := s.GetPointsSelectorOneOf().(type) {
	case *qdrant.PointsSelector_Points:
		ids, err := pointIDs(k.Points.GetIds())
		return service.PointSelector{IDs: ids}, err
	case *qdrant.PointsSelector_Filter:
		f, err := filterJSON(k.Filter)
		if f == nil && err == nil {
			f = []byte("{}")
		}
		return service.PointSelector{Filter: f}, err
	}
	return service.PointSelector{}, apierr.Format("missing points selector: expected `points` or `filter`")
}

func searchParams(p *qdrant.SearchParams) (exact bool, ef uint32) {
	if p.GetHnswEf() > math.MaxUint32 {
		return p.GetExact(), math.MaxUint32
	}
	return p.GetExact(), uint32(p.GetHnswEf())
}

func updateResult(r service.UpdateResult) *qdrant.UpdateResult {
	st := qdrant.UpdateStatus_Acknowledged
	if r.Completed {
		st = qdrant.UpdateStatus_Completed
	}
	id := r.OperationID
	return &qdrant.UpdateResult{OperationId: &id, Status: st}
}

func orderValue(v *float64) *qdrant.OrderValue {
	if v == nil {
		return nil
	}
	if *v == math.Trunc(*v) && math.Abs(*v) < 1<<53 {
		return &qdrant.OrderValue{Variant: &qdrant.OrderValue_Int{Int: int64(*v)}}
	}
	return &qdrant.OrderValue{Variant: &qdrant.OrderValue_Float{Float: *v}}
}

func retrievedPoint(r service.Record) *qdrant.RetrievedPoint {
	return &qdrant.RetrievedPoint{Id: qdrantID(r.ID), Payload: payloadFromJSON(r.Payload), Vectors: vectorsOutput(r.Vectors), OrderValue: orderValue(r.OrderValue)}
}

func retrievedPoints(recs []service.Record) []*qdrant.RetrievedPoint {
	out := make([]*qdrant.RetrievedPoint, len(recs))
	for i, r := range recs {
		out[i] = retrievedPoint(r)
	}
	return out
}

func scoredPoints(pts []service.ScoredPoint) []*qdrant.ScoredPoint {
	out := make([]*qdrant.ScoredPoint, len(pts))
	for i, p := range pts {
		out[i] = &qdrant.ScoredPoint{
			Id: qdrantID(p.ID), Payload: payloadFromJSON(p.Payload), Score: p.Score, Version: p.Version,
			Vectors: vectorsOutput(p.Vectors), OrderValue: orderValue(p.OrderValue),
		}
	}
	return out
}

// orderBy converts an OrderBy; start_from timestamps and datetimes become
// Unix seconds.
func orderBy(o *qdrant.OrderBy) (*service.OrderBy, error) {
	if o == nil {
		return nil, nil
	}
	out := &service.OrderBy{Key: o.GetKey(), Descending: o.GetDirection() == qdrant.Direction_Desc}
	var v float64
	switch k := o.GetStartFrom().GetValue().(type) {
	case nil:
		return out, nil
	case *qdrant.StartFrom_Float:
		v = k.Float
	case *qdrant.StartFrom_Integer:
		v = float64(k.Integer)
	case *qdrant.StartFrom_Timestamp:
		v = float64(k.Timestamp.AsTime().UnixNano()) / 1e9
	case *qdrant.StartFrom_Datetime:
		t, err := service.ParseDatetime(k.Datetime)
		if err != nil {
			return nil, apierr.Format("order_by.start_from: %v", err)
		}
		v = float64(t.UnixNano()) / 1e9
	}
	out.StartFrom = &v
	return out, nil
}
