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
	chunk   int // keys per lock hold; 0: groupChunk
}

// groupChunk is how many keys Groups reads per hold of the replica's
// lock, so that writes wait at most that long while a segment is sealed.
const groupChunk = 16 << 10

// Groups implements segment.Grouper. It reads the payload indexes a
// chunk of keys at a time; a value that changes between chunks is left to
// the searches (see hnsw.GroupPlan).
func (g grouper) Groups(keys []string) map[string]map[string][]uint32 {
	out := map[string]map[string][]uint32{}
	step := g.chunk
	if step <= 0 {
		step = groupChunk
	}
	for start := 0; start < len(keys); start += step {
		chunk := keys[start:min(len(keys), start+step)]
		g.r.mu.RLock()
		part := g.r.payload.Groups(chunk, 1)
		g.r.mu.RUnlock()
		for field, groups := range part {
			if out[field] == nil {
				out[field] = map[string][]uint32{}
			}
			for v, pos := range groups {
				for _, p := range pos {
					out[field][v] = append(out[field][v], p+uint32(start))
				}
			}
		}
	}
	for _, groups := range out {
		for v, pos := range groups {
			if len(pos) < g.minSize {
				delete(groups, v)
			}
		}
	}
	return out
}

// linkFieldsChanged tells every vector name's segments which payload
// fields their sealed segments should have linked (those with a value
// held by at least the full-scan threshold's points): segments sealed
// before such a field was indexed are rebuilt by their optimizer. Call it
// with r.mu held (or before the replica is shared) whenever payload
// indexes are created or dropped.
func (r *Replica) linkFieldsChanged(vs *vectorState) {
	for name, set := range vs.indexes {
		set.SetLinkFields(r.payload.LinkableFields(vs.fullScan[name]))
	}
}

// MinGroupSize implements segment.Grouper: the vector's full-scan
// threshold in points (fewer matches are scored exactly).
func (g grouper) MinGroupSize() int { return g.minSize }
