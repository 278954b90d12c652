// Package segment keeps the vectors of one vector name of a replica in
// segments, as Qdrant does: one appendable segment, searched exactly,
// takes every new point; once it holds more than indexing_threshold of
// vector data it is sealed and indexed with HNSW in the background, while
// searches keep using it; an optimizer vacuums sealed segments whose
// deleted fraction passes deleted_threshold and merges small ones. Sealed
// graphs are persisted through a Store so that a restart reloads them
// instead of re-indexing. A Set is an index.VectorIndex.
package segment

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
)

// Qdrant's optimizer defaults.
const (
	DefaultIndexingThresholdKB = 10000
	DefaultDeletedThreshold    = 0.2
	DefaultVacuumMinVectors    = 1000
	// DefaultMaxSegmentSizeKB bounds merges (Qdrant picks a size from the
	// machine when max_segment_size is unset; this is a fixed choice).
	DefaultMaxSegmentSizeKB = 256 * 1024
)

// Config shapes a Set. Fields are taken literally; DefaultConfig and
// ConfigFromCollection fill Qdrant's defaults.
type Config struct {
	Metric distance.Metric
	Dim    int
	// HNSW is the graph config of sealed segments (hnsw_config m and
	// ef_construct; zero fields take Qdrant's defaults).
	HNSW hnsw.Config
	// IndexingThresholdKB: an appendable segment holding more than this
	// many kilobytes of vectors (1 kB = 256 float32) is sealed and indexed;
	// 0 never indexes (Qdrant's optimizers_config.indexing_threshold).
	IndexingThresholdKB int
	// DeletedThreshold: a sealed segment whose deleted fraction exceeds it
	// is rebuilt without its deleted points (deleted_threshold).
	DeletedThreshold float64
	// VacuumMinVectors: segments smaller than this are never vacuumed
	// (vacuum_min_vector_number).
	VacuumMinVectors int
	// MaxSegments: with more sealed segments than this, the two smallest
	// are merged (default_segment_number; 0 means the number of CPUs).
	MaxSegments int
	// MaxSegmentSizeKB: merges never produce a segment with more vector
	// data than this (max_segment_size).
	MaxSegmentSizeKB int
	// BuildWorkers is the number of goroutines building a graph
	// (max_indexing_threads; 0 means GOMAXPROCS).
	BuildWorkers int
	// Grouper, when set, names the payload field values whose points the
	// graph of every new sealed segment links among themselves
	// (hnsw.Graph.LinkField), for filters on one value.
	Grouper Grouper
	// PayloadM is the m of those value graphs (Qdrant's
	// hnsw_config.payload_m; it defaults to m); 0 links no values.
	PayloadM int
}

// Grouper tells the optimizer how the points of a segment it seals group
// by the values of indexed payload fields.
type Grouper interface {
	// Groups returns, for each field to link, its values' points as
	// positions in keys (the new segment's points, in node order). It is
	// called from the optimizer, outside the Set's lock, while searches
	// and writes go on; a point whose value changes meanwhile is handled
	// by the searches (see hnsw.GroupPlan).
	Groups(keys []string) map[string]map[string][]uint32
	// MinGroupSize is the fewest points a value needs to be linked (fewer
	// are scored exactly by the planner).
	MinGroupSize() int
}

// DefaultConfig is Qdrant's default configuration for vectors of length
// dim scored with metric.
func DefaultConfig(metric distance.Metric, dim int) Config {
	return Config{
		Metric: metric, Dim: dim,
		HNSW:                hnsw.Config{}.WithDefaults(),
		PayloadM:            hnsw.Config{}.WithDefaults().M,
		IndexingThresholdKB: DefaultIndexingThresholdKB,
		DeletedThreshold:    DefaultDeletedThreshold,
		VacuumMinVectors:    DefaultVacuumMinVectors,
		MaxSegmentSizeKB:    DefaultMaxSegmentSizeKB,
	}
}

// hnswJSON is Qdrant's hnsw_config (the fields segments use).
type hnswJSON struct {
	M                  *int `json:"m"`
	EfConstruct        *int `json:"ef_construct"`
	MaxIndexingThreads *int `json:"max_indexing_threads"`
	PayloadM           *int `json:"payload_m"`
}

func (h *hnswJSON) apply(cfg *Config) {
	if h != nil {
		set(&cfg.HNSW.M, h.M)
		set(&cfg.HNSW.EfConstruct, h.EfConstruct)
		set(&cfg.BuildWorkers, h.MaxIndexingThreads)
	}
}

// collectionJSON is the part of a collection's create request (kept in
// CollectionConfig.extra_json) that shapes segments.
type collectionJSON struct {
	HNSW          *hnswJSON `json:"hnsw_config"`
	VectorOptions map[string]struct {
		HNSW *hnswJSON `json:"hnsw_config"`
	} `json:"vector_options"`
	Optimizers *struct {
		DeletedThreshold     *float64 `json:"deleted_threshold"`
		VacuumMinVectorNum   *int     `json:"vacuum_min_vector_number"`
		DefaultSegmentNumber *int     `json:"default_segment_number"`
		MaxSegmentSize       *int     `json:"max_segment_size"`
		IndexingThreshold    *int     `json:"indexing_threshold"`
	} `json:"optimizers_config"`
}

// ConfigFromCollection reads hnsw_config (overridden per vector by
// vector_options.<vectorName>.hnsw_config) and optimizers_config from a
// collection's extra JSON (nil or empty: all defaults) over DefaultConfig.
// Values Qdrant would reject are errors.
func ConfigFromCollection(extraJSON []byte, vectorName string, metric distance.Metric, dim int) (Config, error) {
	cfg := DefaultConfig(metric, dim)
	if len(extraJSON) == 0 {
		return cfg, nil
	}
	var c collectionJSON
	if err := json.Unmarshal(extraJSON, &c); err != nil {
		return cfg, fmt.Errorf("segment config: %w", err)
	}
	c.HNSW.apply(&cfg)
	var payloadM *int
	if c.HNSW != nil {
		payloadM = c.HNSW.PayloadM
	}
	if o, ok := c.VectorOptions[vectorName]; ok {
		o.HNSW.apply(&cfg)
		if o.HNSW != nil && o.HNSW.PayloadM != nil {
			payloadM = o.HNSW.PayloadM
		}
	}
	cfg.PayloadM = cfg.HNSW.WithDefaults().M
	set(&cfg.PayloadM, payloadM)
	if o := c.Optimizers; o != nil {
		if o.DeletedThreshold != nil {
			cfg.DeletedThreshold = *o.DeletedThreshold
		}
		set(&cfg.VacuumMinVectors, o.VacuumMinVectorNum)
		set(&cfg.MaxSegments, o.DefaultSegmentNumber)
		set(&cfg.MaxSegmentSizeKB, o.MaxSegmentSize)
		set(&cfg.IndexingThresholdKB, o.IndexingThreshold)
	}
	return cfg, cfg.Validate()
}

func set(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

// Validate reports a config a Set cannot use.
func (c Config) Validate() error {
	if c.Dim <= 0 {
		return fmt.Errorf("segment config: dimension must be positive, got %d", c.Dim)
	}
	if err := c.HNSW.WithDefaults().Validate(); err != nil {
		return fmt.Errorf("segment config: %w", err)
	}
	switch {
	case c.IndexingThresholdKB < 0:
		return fmt.Errorf("segment config: indexing_threshold must not be negative")
	case c.DeletedThreshold < 0 || c.DeletedThreshold > 1:
		return fmt.Errorf("segment config: deleted_threshold must be in [0, 1], got %v", c.DeletedThreshold)
	case c.PayloadM < 0 || c.PayloadM == 1 || c.PayloadM > 1<<14:
		return fmt.Errorf("segment config: payload_m must be 0 or in [2, 16384], got %d", c.PayloadM)
	case c.VacuumMinVectors < 0, c.MaxSegments < 0, c.MaxSegmentSizeKB < 0, c.BuildWorkers < 0:
		return fmt.Errorf("segment config: negative optimizer setting")
	}
	return nil
}

func (c Config) maxSegments() int {
	if c.MaxSegments > 0 {
		return c.MaxSegments
	}
	return runtime.GOMAXPROCS(0)
}

// bytes is the vector data of n points.
func (c Config) bytes(n int) int64 { return int64(n) * int64(c.Dim) * 4 }
