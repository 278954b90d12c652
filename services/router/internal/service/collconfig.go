package service

import (
	"bytes"
	"encoding/json"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// Extra-JSON keys: a create request's fields that later layers interpret
// are kept verbatim in CollectionConfig.extra_json under their Qdrant
// names; per-vector options (on_disk, hnsw_config, datatype, …) are kept
// under VectorOptionsKey, by vector name.
const VectorOptionsKey = "vector_options"

// ExtraFields are the create-request fields kept in extra_json.
var ExtraFields = []string{
	"hnsw_config", "optimizers_config", "wal_config", "quantization_config",
	"sparse_vectors", "strict_mode_config", "metadata", "payload", "sharding_method",
}

// HnswConfig is Qdrant's HnswConfig with its defaults.
type HnswConfig struct {
	M                  int   `json:"m"`
	EfConstruct        int   `json:"ef_construct"`
	FullScanThreshold  int   `json:"full_scan_threshold"`
	MaxIndexingThreads int   `json:"max_indexing_threads"`
	OnDisk             *bool `json:"on_disk"`
	PayloadM           *int  `json:"payload_m,omitempty"`
	InlineStorage      *bool `json:"inline_storage,omitempty"`
}

// OptimizersConfig is Qdrant's OptimizersConfig with its defaults.
type OptimizersConfig struct {
	DeletedThreshold       float64 `json:"deleted_threshold"`
	VacuumMinVectorNumber  int     `json:"vacuum_min_vector_number"`
	DefaultSegmentNumber   int     `json:"default_segment_number"`
	MaxSegmentSize         *int    `json:"max_segment_size"`
	MemmapThreshold        *int    `json:"memmap_threshold"`
	IndexingThreshold      *int    `json:"indexing_threshold"`
	FlushIntervalSec       int     `json:"flush_interval_sec"`
	MaxOptimizationThreads *int    `json:"max_optimization_threads"`
	PreventUnoptimized     *bool   `json:"prevent_unoptimized,omitempty"`
}

// WalConfig is Qdrant's WalConfig with its defaults.
type WalConfig struct {
	WalCapacityMB    int `json:"wal_capacity_mb"`
	WalSegmentsAhead int `json:"wal_segments_ahead"`
	WalRetainClosed  int `json:"wal_retain_closed"`
}

// VectorParamsView is one vector's parameters as a collection shows them.
type VectorParamsView struct {
	Size     uint64
	Distance shoalv1.Distance
	// Options are the per-vector options given at creation (a JSON object),
	// or nil.
	Options json.RawMessage
}

// ConfigView is a collection's configuration with Qdrant's defaults
// filled in, as GET /collections/{name} shows it.
type ConfigView struct {
	Vectors                map[string]VectorParamsView
	Named                  bool
	ShardNumber            uint32
	ReplicationFactor      uint32
	WriteConsistencyFactor uint32
	OnDiskPayload          bool
	Hnsw                   HnswConfig
	Optimizers             OptimizersConfig
	Wal                    WalConfig
	// Extra holds the other kept fields (quantization_config,
	// sparse_vectors, strict_mode_config, metadata, payload, …) as given.
	Extra map[string]json.RawMessage
}

func defaultHnsw() HnswConfig {
	f := false
	return HnswConfig{M: 16, EfConstruct: 100, FullScanThreshold: 10000, OnDisk: &f}
}

func defaultOptimizers() OptimizersConfig {
	it := 10000
	return OptimizersConfig{DeletedThreshold: 0.2, VacuumMinVectorNumber: 1000, IndexingThreshold: &it, FlushIntervalSec: 5}
}

func defaultWal() WalConfig {
	return WalConfig{WalCapacityMB: 32, WalRetainClosed: 1}
}

// decodeExtras checks the kept fields of a create request: the
// configuration diffs must have the right types and ranges, the rest must
// be JSON objects (or null). It returns the effective hnsw, optimizer and
// WAL configurations.
func decodeExtras(extra map[string]json.RawMessage) (HnswConfig, OptimizersConfig, WalConfig, error) {
	hnsw, opt, wal := defaultHnsw(), defaultOptimizers(), defaultWal()
	for k, v := range extra {
		if isNull(v) {
			continue
		}
		var err error
		switch k {
		case "hnsw_config":
			err = json.Unmarshal(v, &hnsw)
		case "optimizers_config":
			err = json.Unmarshal(v, &opt)
		case "wal_config":
			err = json.Unmarshal(v, &wal)
		case "sharding_method":
			var m string
			if err = json.Unmarshal(v, &m); err == nil && m != "auto" && m != "custom" {
				return hnsw, opt, wal, apierr.Format("sharding_method: unknown variant `%s`, expected `auto` or `custom`", m)
			}
		case VectorOptionsKey:
		default:
			if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
				return hnsw, opt, wal, apierr.Format("%s: expected an object", k)
			}
		}
		if err != nil {
			return hnsw, opt, wal, apierr.Format("%s: %v", k, err)
		}
	}
	switch {
	case hnsw.M < 0:
		return hnsw, opt, wal, apierr.Invalid("hnsw_config.m", "value %d invalid, must be 0 or larger", hnsw.M)
	case hnsw.EfConstruct < 4:
		return hnsw, opt, wal, apierr.Invalid("hnsw_config.ef_construct", "value %d invalid, must be 4 or larger", hnsw.EfConstruct)
	case opt.DeletedThreshold < 0 || opt.DeletedThreshold > 1:
		return hnsw, opt, wal, apierr.Invalid("optimizers_config.deleted_threshold", "value %v invalid, must be from 0 to 1", opt.DeletedThreshold)
	case opt.VacuumMinVectorNumber < 100:
		return hnsw, opt, wal, apierr.Invalid("optimizers_config.vacuum_min_vector_number", "value %d invalid, must be 100 or larger", opt.VacuumMinVectorNumber)
	case wal.WalCapacityMB < 1:
		return hnsw, opt, wal, apierr.Invalid("wal_config.wal_capacity_mb", "value %d invalid, must be 1 or larger", wal.WalCapacityMB)
	}
	return hnsw, opt, wal, nil
}

// View returns a collection's configuration with defaults filled in.
// Extra JSON that does not decode (written by a newer version) is shown
// with defaults rather than failing the read.
func View(cfg *shoalv1.CollectionConfig) ConfigView {
	v := ConfigView{
		Vectors:                map[string]VectorParamsView{},
		Named:                  cfg.GetNamed(),
		ShardNumber:            cfg.GetShardNumber(),
		ReplicationFactor:      cfg.GetReplicationFactor(),
		WriteConsistencyFactor: cfg.GetWriteConsistencyFactor(),
		OnDiskPayload:          cfg.GetOnDiskPayload(),
		Hnsw:                   defaultHnsw(),
		Optimizers:             defaultOptimizers(),
		Wal:                    defaultWal(),
		Extra:                  map[string]json.RawMessage{},
	}
	var extra map[string]json.RawMessage
	if len(cfg.GetExtraJson()) > 0 {
		_ = json.Unmarshal(cfg.GetExtraJson(), &extra)
	}
	var options map[string]json.RawMessage
	if raw, ok := extra[VectorOptionsKey]; ok {
		_ = json.Unmarshal(raw, &options)
	}
	for name, p := range cfg.GetVectors() {
		v.Vectors[name] = VectorParamsView{Size: p.GetSize(), Distance: p.GetDistance(), Options: options[name]}
	}
	for k, raw := range extra {
		switch k {
		case "hnsw_config":
			_ = json.Unmarshal(raw, &v.Hnsw)
		case "optimizers_config":
			_ = json.Unmarshal(raw, &v.Optimizers)
		case "wal_config":
			_ = json.Unmarshal(raw, &v.Wal)
		case VectorOptionsKey:
		default:
			if !isNull(raw) {
				v.Extra[k] = raw
			}
		}
	}
	return v
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}
