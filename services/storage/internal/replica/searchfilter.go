package replica

import (
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/payloadindex"
	"github.com/shoaldb/shoal/services/storage/internal/segment"
)

// segmentFilter describes a filtered search's filter to the segments
// (segment.Filter): raw is the filter's JSON, its cache identity; the
// matches are the payload index plan's candidates that pass accept; a
// must condition matching one value of a field indexed for it names the
// value whose group links the walk may follow. Filters the indexes cannot
// narrow are not cached (listing their matches would read every payload).
// Call it with r.mu held for reading; the returned functions must be used
// while it is held.
func (r *Replica) segmentFilter(raw []byte, f *filter.Filter, plan payloadindex.Plan, accept func(string) bool) segment.Filter {
	sf := segment.Filter{Accept: accept}
	if !plan.Known {
		return sf
	}
	sf.ID = string(raw)
	sf.Matches = func() []string {
		keys := plan.Keys()
		out := keys[:0]
		for _, k := range keys {
			if accept(k) {
				out = append(out, k)
			}
		}
		return out
	}
	for _, c := range f.Must {
		fc := c.Field
		if fc == nil || fc.Match == nil || fc.Match.Kind != filter.MatchValue || fc.Range != nil ||
			fc.DatetimeRange != nil || fc.GeoRadius != nil || fc.GeoBoundingBox != nil || fc.GeoPolygon != nil ||
			fc.ValuesCount != nil || fc.IsEmpty != nil || fc.IsNull != nil {
			continue
		}
		if v, ok := r.payload.LinkedValue(fc.Key.String(), fc.Match.Value); ok {
			sf.Field, sf.Value = fc.Key.String(), v
			break
		}
	}
	return sf
}

// grouper is a vector name's segment.Grouper: the replica's payload
// indexes group the points of a segment being sealed.
type grouper struct {
	r       *Replica
	minSize int
}

// Groups implements segment.Grouper.
func (g grouper) Groups(keys []string) map[string]map[string][]uint32 {
	g.r.mu.RLock()
	defer g.r.mu.RUnlock()
	return g.r.payload.Groups(keys, g.minSize)
}

// MinGroupSize implements segment.Grouper: the vector's full-scan
// threshold in points (fewer matches are scored exactly).
func (g grouper) MinGroupSize() int { return g.minSize }
