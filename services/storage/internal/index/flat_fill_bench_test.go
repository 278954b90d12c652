package index

import (
	"strconv"
	"testing"

	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

// BenchmarkFlatFill fills a flat index with 460 000 128-dim vectors, as
// opening a replica of that many points without sealed segments does:
// the cost is mostly growing the slab (copies and page faults).
func BenchmarkFlatFill(b *testing.B) {
	vec := make([]float32, 128)
	keys := make([]string, 460_000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	for b.Loop() {
		f := NewFlat(distance.Metric{}, 128)
		for _, k := range keys {
			f.Upsert(k, vec)
		}
	}
}
