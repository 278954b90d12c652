// Package index holds the in-memory vector indexes a replica searches.
//
// A VectorIndex holds the vectors of one vector name of one replica, keyed
// by the point's storage key (pointid.Key as a string). Vectors are given
// already prepared (normalised for Cosine); the index does not copy-check
// them beyond their length. Implementations are not safe for concurrent
// use: the replica serialises writers against readers.
package index

import "github.com/shoaldb/shoal/services/storage/internal/distance"

// Hit is one search result.
type Hit struct {
	// Key is the point's storage key.
	Key   string
	Score float32
}

// SearchParams narrows a search.
type SearchParams struct {
	// Threshold, when set, drops hits whose score does not pass it (see
	// distance.Metric.Passes).
	Threshold *float32
	// Accept, when set, is asked for every candidate key; false skips it.
	// Filters plug in here.
	Accept func(key string) bool
	// Ef is the approximate search list size (Qdrant's hnsw_ef); 0 uses
	// the index's default. Exact indexes ignore it.
	Ef int
	// Exact forces an exhaustive search (Qdrant's params.exact). Exact
	// indexes always are.
	Exact bool
}

// VectorIndex is a searchable set of vectors: Flat (exact), hnsw.Graph
// (approximate) and segment.Set (segments of both) implement it.
type VectorIndex interface {
	// Upsert stores or replaces the vector of key. vec is copied.
	Upsert(key string, vec []float32)
	// Delete removes key; it reports whether key was present.
	Delete(key string) bool
	// Vector returns the stored vector of key, valid until the next
	// write to the index.
	Vector(key string) ([]float32, bool)
	// Len is the number of vectors held.
	Len() int
	// Search returns up to k best hits for a prepared query, best first;
	// equal scores are ordered by key.
	Search(query []float32, k int, p SearchParams) []Hit
	// Metric is the distance the index scores with.
	Metric() distance.Metric
}

// CandidateScorer is a VectorIndex that scores a list of candidate keys
// exactly faster than one Vector call per key. ScoreKeys returns up to k
// best hits among the keys it holds, best first (equal scores by key),
// honouring p.Threshold and p.Accept; p.Ef and p.Exact do not apply.
// Keys it does not hold are skipped.
type CandidateScorer interface {
	ScoreKeys(query []float32, k int, keys []string, p SearchParams) []Hit
}
