// Package hnsw is a Hierarchical Navigable Small World graph (Malkov &
// Yashunin, "Efficient and robust approximate nearest neighbor search
// using Hierarchical Navigable Small World graphs") over float32 vectors,
// with Qdrant's parameter names and defaults.
//
// A Graph is safe for concurrent use: any number of Add, Delete and Search
// calls may run at once. Searches read neighbour lists without locks
// (entries are loaded and stored atomically, so a search racing an insert
// sees each list either before or after an update, or a mix of both, which
// only costs it a little accuracy); inserts lock the one node whose list
// they change. Deleted points become tombstones: they are never returned,
// but searches still walk through them so the graph stays connected.
package hnsw

import (
	"fmt"
	"math"
)

// Qdrant's defaults (collection hnsw_config).
const (
	DefaultM           = 16
	DefaultEfConstruct = 100
)

// Config is the shape of a graph. The zero value of each field means
// Qdrant's default.
type Config struct {
	// M is the number of edges a node keeps on the upper layers (Qdrant's
	// m, default 16). Layer 0 keeps M0 = 2*M.
	M int
	// EfConstruct is the candidate list size while inserting (Qdrant's
	// ef_construct, default 100). It is also the search-time ef when a
	// search names none, as in Qdrant (the stored ef is ef_construct; a
	// search uses max(ef, k)).
	EfConstruct int
	// KeepPruned turns on the "keep pruned connections" step of the
	// paper's neighbour-selection heuristic (algorithm 4): a node whose
	// heuristic pick has fewer than M neighbours is topped up with the
	// closest discarded candidates. Off by default, as in hnswlib: on
	// Fashion-MNIST it raised recall per ef but cost 20-30% QPS at equal
	// ef and 1.7x build time (docs/BENCHMARKS.md).
	KeepPruned bool
	// Seed seeds the level generator; 0 picks a fixed default seed.
	// Concurrent inserts make the graph depend on scheduling anyway.
	Seed uint64
}

// WithDefaults returns c with zero fields set to Qdrant's defaults.
func (c Config) WithDefaults() Config {
	if c.M == 0 {
		c.M = DefaultM
	}
	if c.EfConstruct == 0 {
		c.EfConstruct = DefaultEfConstruct
	}
	if c.Seed == 0 {
		c.Seed = 0x5eed
	}
	return c
}

// Validate reports a config a graph cannot use (after WithDefaults).
func (c Config) Validate() error {
	switch {
	case c.M < 2 || c.M > 1<<14:
		return fmt.Errorf("hnsw: m must be in [2, 16384], got %d", c.M)
	case c.EfConstruct < 4 || c.EfConstruct > 1<<16:
		return fmt.Errorf("hnsw: ef_construct must be in [4, 65536], got %d", c.EfConstruct)
	}
	return nil
}

// m0 is the layer-0 degree bound.
func (c Config) m0() int { return 2 * c.M }

// levelMult is the paper's mL = 1/ln(M), which makes the expected number
// of nodes on each layer M times smaller than on the one below.
func (c Config) levelMult() float64 { return 1 / math.Log(float64(c.M)) }

// maxLevel caps generated levels; with M >= 2 reaching it needs about
// 2^31 points.
const maxLevel = 31
