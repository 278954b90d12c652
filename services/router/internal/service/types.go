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
	// OrderValue is the value that placed the point in an order_by scroll
	// or query; nil otherwise.
	OrderValue *float64
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
	// Filter is Qdrant filter JSON (an object); nil for none.
	Filter json.RawMessage
	// ShardKey restricts the request to these shard keys (custom
	// sharding); nil for every shard.
	ShardKey *routing.KeySelector
}

// QueryRequest is a query API request: a stage (its query, filter,
// prefetches) plus the page and the read options of the final result.
type QueryRequest struct {
	Stage
	Offset int
	Read   ReadOptions
	// ShardKey restricts the request to these shard keys (custom
	// sharding); nil for every shard.
	ShardKey *routing.KeySelector
}

// Stage is a query or one of its prefetches. Its Prefetch stages run
// first; the Query then fuses their results (Fusion), rescores them
// (nearest, recommend), orders (OrderBy) or samples them. Without
// prefetches the Query runs over the collection. Filter applies to this
// stage and every stage below it.
type Stage struct {
	Prefetch []Stage
	Query
	Using          string
	Filter         json.RawMessage
	ScoreThreshold *float32
	Limit          int
	Exact          bool
	HnswEf         uint32
	// LookupFrom, when set, takes the vectors of examples given as point
	// ids from another collection.
	LookupFrom *LookupLocation
}

// Query is a stage's scoring: at most one kind is set. With Vector (or
// ByID: that point's vector named Using, the point itself left out of the
// result) it is a nearest query; with none it lists points by id.
type Query struct {
	Vector    []float32
	ByID      *shoalv1.PointID
	Recommend *Recommend
	// Discover is a discovery query (Target set) or a context query
	// (Target nil).
	Discover *Discover
	Fusion   *Fusion
	OrderBy  *OrderBy
	// Sample draws random points (Qdrant's sample: random).
	Sample bool
}

// Recommend scores points by positive and negative examples.
type Recommend struct {
	Positive []VectorInput
	Negative []VectorInput
	// Strategy is "average_vector" (the default), "best_score" or
	// "sum_scores".
	Strategy string
}

// Discover constrains the search space by context pairs. With a Target
// it is Qdrant's discovery query: points rank by the number of pairs
// whose positive is more similar than its negative, then by similarity
// to the target. Without a Target it is a context query: points score
// the sum over pairs of min(0, sim(positive) − sim(negative)).
type Discover struct {
	Target  *VectorInput
	Context []ContextPair
}

// ContextPair is a positive and a negative example.
type ContextPair struct {
	Positive VectorInput
	Negative VectorInput
}

// VectorInput is an example: a vector, or a point whose vector (named by
// the stage's Using) is the example.
type VectorInput struct {
	Vector []float32
	ID     *shoalv1.PointID
}

// Fusion combines the results of a stage's prefetches.
type Fusion struct {
	// Kind is "rrf" (reciprocal rank fusion) or "dbsf"
	// (distribution-based score fusion).
	Kind string
	// K is RRF's constant (0: Qdrant's default, 2).
	K int
	// Weights weigh the prefetches for RRF; nil weighs them equally.
	Weights []float32
}

// ScrollRequest pages through a collection by id, or by a payload field
// with OrderBy.
type ScrollRequest struct {
	// Offset is the first id of the page; nil starts at the lowest. It
	// cannot be combined with OrderBy.
	Offset *shoalv1.PointID
	Limit  int
	Read   ReadOptions
	// Filter is Qdrant filter JSON (an object); nil for none.
	Filter json.RawMessage
	// OrderBy orders the page by a payload field instead of by id.
	OrderBy *OrderBy
	// ShardKey restricts the request to these shard keys (custom
	// sharding); nil for every shard.
	ShardKey *routing.KeySelector
}

// OrderBy orders a scroll by a numeric or datetime payload field.
type OrderBy struct {
	Key        string
	Descending bool
	// StartFrom is the first value to return (inclusive); datetimes are
	// Unix seconds. Nil starts at the lowest (highest when descending).
	StartFrom *float64
}

// ScrollResult is one page and the id the next page starts at (nil at
// the end, and always nil for an order_by scroll).
type ScrollResult struct {
	Points     []Record
	NextOffset *shoalv1.PointID
}

// PointSelector picks the points of an update: by ids, or (when Filter is
// set) every point matching a Qdrant filter.
type PointSelector struct {
	IDs []*shoalv1.PointID
	// Filter is Qdrant filter JSON (an object); nil selects by IDs.
	Filter json.RawMessage
	// ShardKey restricts the update to these shard keys (custom
	// sharding); nil for every shard.
	ShardKey *routing.KeySelector
}

// CountRequest counts the points matching a filter (all for nil).
type CountRequest struct {
	Filter json.RawMessage
	// ShardKey restricts the request to these shard keys (custom
	// sharding); nil for every shard.
	ShardKey *routing.KeySelector
}
