// Package distance implements the similarity functions of Qdrant's
// collections and the rules for ordering their scores.
//
// Scores are reported as Qdrant reports them: Cosine and Dot are
// similarities (higher is better); Euclid is the Euclidean distance and
// Manhattan the L1 distance (lower is better). A score_threshold is a lower
// bound for the former and an upper bound for the latter.
package distance

import (
	"fmt"
	"math"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// Metric scores vectors for one distance. The zero Metric is not usable;
// get one from For. Metrics are values and safe for concurrent use.
type Metric struct {
	kind  shoalv1.Distance
	score func(a, b []float32) float32
	lower bool
}

// For returns the metric of a collection's distance.
func For(d shoalv1.Distance) (Metric, error) {
	switch d {
	case shoalv1.Distance_DISTANCE_COSINE:
		return Metric{kind: d, score: Dot}, nil
	case shoalv1.Distance_DISTANCE_DOT:
		return Metric{kind: d, score: Dot}, nil
	case shoalv1.Distance_DISTANCE_EUCLID:
		return Metric{kind: d, score: euclid, lower: true}, nil
	case shoalv1.Distance_DISTANCE_MANHATTAN:
		return Metric{kind: d, score: L1, lower: true}, nil
	}
	return Metric{}, fmt.Errorf("unsupported distance %v", d)
}

// Kind is the distance the metric implements.
func (m Metric) Kind() shoalv1.Distance { return m.kind }

// Score returns the reported score of a stored vector against a query.
// Both must have the same length and must have gone through Prepare.
func (m Metric) Score(query, stored []float32) float32 { return m.score(query, stored) }

// LowerIsBetter reports whether smaller scores are better (Euclid,
// Manhattan).
func (m Metric) LowerIsBetter() bool { return m.lower }

// Better reports whether score a ranks strictly before score b.
func (m Metric) Better(a, b float32) bool {
	if m.lower {
		return a < b
	}
	return a > b
}

// Passes reports whether score meets a score_threshold: at least the
// threshold for similarities, at most the threshold for distances. A score
// equal to the threshold passes, as in Qdrant.
func (m Metric) Passes(score, threshold float32) bool {
	if m.lower {
		return score <= threshold
	}
	return score >= threshold
}

// NeedsNormalizing reports whether vectors are normalised before they are
// stored or searched (Cosine).
func (m Metric) NeedsNormalizing() bool { return m.kind == shoalv1.Distance_DISTANCE_COSINE }

// Prepare returns v ready to store or to search with: for Cosine a
// normalised copy, otherwise v itself (never modified).
func (m Metric) Prepare(v []float32) []float32 {
	if !m.NeedsNormalizing() {
		return v
	}
	out := make([]float32, len(v))
	copy(out, v)
	Normalize(out)
	return out
}

func euclid(a, b []float32) float32 {
	return float32(math.Sqrt(float64(L2Squared(a, b))))
}
