// Package filter implements Qdrant's filter language over JSON payloads:
// parsing the REST `Filter` object into a Filter, and evaluating it
// against points.
//
// Semantics follow Qdrant: a condition on a key looks at the values the
// key's Path selects and matches when any of them matches, a value that
// is an array counting as its elements; values of the wrong type, nulls
// and missing keys never match (they never error). must is AND, should is
// OR (an empty should is true), must_not is AND NOT, and min_should needs
// at least min_count of its conditions. Evaluation never fails; bad input
// fails in Parse with an *Error.
package filter

import (
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// Error is a filter that cannot be parsed or is invalid. Its message is
// Qdrant-style and names where in the filter the problem is; servers map it
// to InvalidArgument (HTTP 400).
type Error struct {
	// At is where in the filter the problem is (`filter.must[0].range`).
	At  string
	Msg string
}

func (e *Error) Error() string {
	return "Format error in JSON body: " + e.At + ": " + e.Msg
}

// Filter is a parsed filter. The zero Filter matches every point.
type Filter struct {
	Must, Should, MustNot []*Condition
	MinShould             *MinShould
}

// MinShould needs at least MinCount (≥ 1) of Conditions to match.
type MinShould struct {
	Conditions []*Condition
	MinCount   int
}

// Condition is one condition; exactly one field is set.
type Condition struct {
	Field   *FieldCondition
	IsEmpty *Path // the key has no values, or only nulls and empty arrays
	IsNull  *Path // one of the key's values is null
	// HasID holds the storage keys (pointid.Key) of the ids.
	HasID     map[string]struct{}
	HasVector *string
	Nested    *Nested
	Filter    *Filter
}

// Nested applies Filter to each object element of the array at Key (with
// a trailing `[]`); it matches when one element matches the whole filter.
// Keys inside Filter are relative to the element.
type Nested struct {
	Key    Path
	Filter *Filter
}

// FieldCondition tests the values of one key. When several tests are
// given they are OR-ed, as in Qdrant.
type FieldCondition struct {
	Key            Path
	Match          *Match
	Range          *Range
	DatetimeRange  *DatetimeRange
	GeoRadius      *GeoRadius
	GeoBoundingBox *GeoBoundingBox
	GeoPolygon     *GeoPolygon
	ValuesCount    *ValuesCount
	// IsEmpty / IsNull are the `"is_empty": true|false` shorthand forms;
	// false negates the test.
	IsEmpty, IsNull *bool
}

// MatchKind is the form of a match condition.
type MatchKind uint8

const (
	MatchValue   MatchKind = iota // {"value": v}: string, integer or bool
	MatchAny                      // {"any": [...]}: strings or integers
	MatchExcept                   // {"except": [...]}
	MatchText                     // {"text": "..."}
	MatchTextAny                  // {"text_any": "..."}
	MatchPhrase                   // {"phrase": "..."}
	MatchPrefix                   // {"prefix": "..."}
)

// Match is a match condition.
type Match struct {
	Kind MatchKind
	// Value is a string, int64 or bool (MatchValue).
	Value any
	// Strings or Ints is the list of MatchAny / MatchExcept; IntList says
	// which (an empty list is a string list).
	Strings []string
	Ints    []int64
	IntList bool
	// Text is the query of the text and prefix kinds.
	Text string
}

// Range bounds numbers; nil bounds are open.
type Range struct {
	GT, GTE, LT, LTE *float64
}

// Contains reports whether x is within every given bound.
func (r *Range) Contains(x float64) bool {
	return (r.GT == nil || x > *r.GT) && (r.GTE == nil || x >= *r.GTE) &&
		(r.LT == nil || x < *r.LT) && (r.LTE == nil || x <= *r.LTE)
}

// DatetimeRange bounds datetimes, in microseconds since the epoch.
type DatetimeRange struct {
	GT, GTE, LT, LTE *int64
}

// Contains reports whether us is within every given bound.
func (r *DatetimeRange) Contains(us int64) bool {
	return (r.GT == nil || us > *r.GT) && (r.GTE == nil || us >= *r.GTE) &&
		(r.LT == nil || us < *r.LT) && (r.LTE == nil || us <= *r.LTE)
}

// ValuesCount bounds the number of values of a key.
type ValuesCount struct {
	GT, GTE, LT, LTE *uint64
}

// Contains reports whether n is within every given bound.
func (c *ValuesCount) Contains(n uint64) bool {
	return (c.GT == nil || n > *c.GT) && (c.GTE == nil || n >= *c.GTE) &&
		(c.LT == nil || n < *c.LT) && (c.LTE == nil || n <= *c.LTE)
}

// IDKey is the has_id key of a point id (its storage key).
func IDKey(id *shoalv1.PointID) string {
	return string(pointid.Key(id))
}
