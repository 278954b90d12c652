package replica

import (
	"encoding/json"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// defaultFullScanKB is Qdrant's default hnsw_config.full_scan_threshold.
const defaultFullScanKB = 10_000

// fullScanThresholds returns, per vector name, the number of points below
// which a filtered search scores the filter's candidates exactly instead
// of traversing the vector index. Like Qdrant, full_scan_threshold is in
// kilobytes of vectors (1 KB = one 256-dimensional vector): points =
// KB * 1024 / (4 * dim). It is read from extra_json's hnsw_config, and
// per vector from vector_options.<name>.hnsw_config.
func fullScanThresholds(cfg *shoalv1.CollectionConfig) map[string]int {
	type hnsw struct {
		FullScanThreshold *int `json:"full_scan_threshold"`
	}
	var extra struct {
		HNSW          *hnsw `json:"hnsw_config"`
		VectorOptions map[string]struct {
			HNSW *hnsw `json:"hnsw_config"`
		} `json:"vector_options"`
	}
	if len(cfg.GetExtraJson()) > 0 {
		// Malformed extra JSON (checked by the router) leaves the defaults.
		_ = json.Unmarshal(cfg.GetExtraJson(), &extra)
	}
	kb := defaultFullScanKB
	if extra.HNSW != nil && extra.HNSW.FullScanThreshold != nil && *extra.HNSW.FullScanThreshold >= 0 {
		kb = *extra.HNSW.FullScanThreshold
	}
	out := map[string]int{}
	for name, p := range cfg.GetVectors() {
		v := kb
		if o, ok := extra.VectorOptions[name]; ok && o.HNSW != nil && o.HNSW.FullScanThreshold != nil && *o.HNSW.FullScanThreshold >= 0 {
			v = *o.HNSW.FullScanThreshold
		}
		dim := max(int(p.GetSize()), 1)
		out[name] = int(int64(v) * 1024 / int64(4*dim))
	}
	return out
}
