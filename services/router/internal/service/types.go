package service

import (
	"encoding/json"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// UpdateResult is the outcome of a point write: Qdrant's operation_id and
// status "completed" (Completed) or "acknowledged".
type UpdateResult = routing.UpdateResult

// PointInput is one point to upsert. Vectors maps a vector name to its
// values; the unnamed vector of a single-vector collection has the name "".
// Payload is a JSON object, or nil for none.
type PointInput struct {
	ID      *shoalv1.PointID
	Vectors map[string][]float32
	Payload json.RawMessage
}

// PayloadSelector chooses the payload a read returns. The zero value
// returns none.
type PayloadSelector struct {
	Enabled bool
	// Include, if not nil, keeps only these fields (dotted paths reach
	// into nested objects).
	Include []string
	// Exclude drops these fields.
	Exclude []string
}

// AllPayload selects the whole payload.
var AllPayload = PayloadSelector{Enabled: true}

// VectorSelector chooses the vectors a read returns. The zero value
// returns none.
type VectorSelector struct {
	All bool
	// Names selects named vectors ("" is the unnamed one).
	Names []string
}

// ReadOptions selects what a read returns with each point.
type ReadOptions struct {
	Payload PayloadSelector
	Vector  VectorSelector
}

// Record is a point as a read returns it.
type Record struct {
	ID      *shoalv1.PointID
	Version uint64
	// Payload is nil when not requested, the (selected) JSON object
	// otherwise: "{}" for a point without payload.
	Payload json.RawMessage
	// Vectors is nil when not requested. The key "" is the unnamed vector
	// of a single-vector collection, the only key such a collection has;
	// wire formats show it as a plain vector.
	Vectors map[string][]float32
}

// ScoredPoint is a search hit.
type ScoredPoint struct {
	Record
	Score float32
}

// SearchRequest is a nearest-neighbour search (Qdrant's legacy search and
// the query API's nearest query).
type SearchRequest struct {
	// Using names the vector to search ("" for the unnamed one).
	Using  string
	Vector []float32
	Limit  int
	Offset int
	// ScoreThreshold keeps only points at least this good.
	ScoreThreshold *float32
	Exact          bool
	HnswEf         uint32
	Read           ReadOptions
}

// QueryRequest is a query API request. With Vector set it is a nearest
// query; with ByID set it searches with that point's vector (Using) and
// leaves the point out; with neither it lists points by id.
type QueryRequest struct {
	Using          string
	Vector         []float32
	ByID           *shoalv1.PointID
	Limit          int
	Offset         int
	ScoreThreshold *float32
	Exact          bool
	HnswEf         uint32
	Read           ReadOptions
}

// ScrollRequest pages through a collection by id.
type ScrollRequest struct {
	// Offset is the first id of the page; nil starts at the lowest.
	Offset *shoalv1.PointID
	Limit  int
	Read   ReadOptions
}

// ScrollResult is one page and the id the next page starts at (nil at
// the end).
type ScrollResult struct {
	Points     []Record
	NextOffset *shoalv1.PointID
}
