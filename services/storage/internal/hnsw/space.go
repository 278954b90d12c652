package hnsw

import (
	"math"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

// space turns a metric into the graph's internal distance, where smaller
// is always closer: squared L2 for Euclid, L1 for Manhattan and the
// negated dot product for Dot and Cosine (whose vectors are normalised
// before they reach the graph). score converts back to the score the
// metric reports, bit-for-bit equal to distance.Metric.Score.
//
// prefixBound is set when the distance of a prefix of the coordinates
// never exceeds the whole distance (a sum of non-negative terms: squared
// L2 and L1), so a candidate can be dropped once a prefix is already too
// far.
type space struct {
	dist        func(a, b []float32) float32
	score       func(d float32) float32
	prefixBound bool
	// dist0 inverts score (up to rounding) where prefixBound is set.
	dist0 func(score float32) float32
}

// spaceFor resolves the kernels for vectors of length dim once.
func spaceFor(m distance.Metric, dim int) space {
	k := distance.KernelsFor(dim)
	switch m.Kind() {
	case shoalv1.Distance_DISTANCE_EUCLID:
		return space{dist: k.L2Squared, score: func(d float32) float32 { return float32(math.Sqrt(float64(d))) }, prefixBound: true,
			dist0: func(s float32) float32 { return s * s }}
	case shoalv1.Distance_DISTANCE_MANHATTAN:
		return space{dist: k.L1, score: func(d float32) float32 { return d }, prefixBound: true,
			dist0: func(s float32) float32 { return s }}
	default: // Dot, Cosine
		dot := k.Dot
		return space{dist: func(a, b []float32) float32 { return -dot(a, b) }, score: func(d float32) float32 { return -d }}
	}
}
