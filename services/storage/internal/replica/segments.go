package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/shoaldb/shoal/services/storage/internal/segment"
)

// openSegments opens the segment set of every vector name on its stored
// sealed segments and returns their loaders (the caller passes every
// stored point through them, then calls Finish). The segment config comes
// from the collection's extra JSON (hnsw_config, vector_options,
// optimizers_config); a config the segments cannot use is logged and
// replaced by Qdrant's defaults, so that a bad value never makes a shard
// unopenable. Stored segments that fail to load (corrupt, or built for
// another metric or size) are logged and discarded: the points are the
// truth and are indexed again.
func (r *Replica) openSegments() (map[string]*segment.Loader, error) {
	loaders := map[string]*segment.Loader{}
	vs := r.vs()
	for name := range vs.spaces {
		log := r.log.With().Str("vector", name).Logger()
		cfg := r.segmentConfig(vs, name, log)
		store, err := openSegStore(r.db, name)
		if err != nil {
			return nil, err
		}
		set, l, err := segment.Open(cfg, store, log)
		if err != nil {
			log.Error().Err(err).Msg("stored segments unusable; discarding them and indexing the points again")
			if err := store.clear(); err != nil {
				return nil, fmt.Errorf("vector %q: discard stored segments: %w", name, err)
			}
			if set, l, err = segment.Open(cfg, store, log); err != nil {
				return nil, fmt.Errorf("vector %q: %w", name, err)
			}
		}
		vs.indexes[name] = set
		loaders[name] = l
	}
	return loaders, nil
}

// segmentConfig is the segment config of vector name: from the
// collection's extra JSON, Qdrant's defaults when the segments cannot use
// it (logged), and the payload indexes as the Grouper.
func (r *Replica) segmentConfig(vs *vectorState, name string, log zerolog.Logger) segment.Config {
	sp := vs.spaces[name]
	dim := int(sp.params.GetSize())
	cfg, err := segment.ConfigFromCollection(vs.cfg.GetExtraJson(), name, sp.metric, dim)
	if err != nil {
		log.Warn().Err(err).Msg("segment config from the collection's extra_json refused; using the defaults")
		cfg = segment.DefaultConfig(sp.metric, dim)
	}
	cfg.Grouper = grouper{r: r, minSize: vs.fullScan[name]}
	return cfg
}

// closeSegments stops every segment optimizer and waits for it.
func (r *Replica) closeSegments() {
	for _, set := range r.vs().indexes {
		set.Close()
	}
}

// SegmentStats returns, per vector name, the state of its segments.
func (r *Replica) SegmentStats() map[string]segment.Stats {
	indexes := r.vs().indexes
	out := make(map[string]segment.Stats, len(indexes))
	for name, set := range indexes {
		out[name] = set.Stats()
	}
	return out
}

// Optimize runs every due segment job (seal, vacuum, merge) of every
// vector name in the caller and returns once none is left; the background
// optimizers do the same on their own. It fails with ErrClosed after
// Close (Close aborts a job in progress).
func (r *Replica) Optimize(ctx context.Context) error {
	for name, set := range r.vs().indexes {
		select {
		case <-r.closing:
			return ErrClosed
		default:
		}
		if err := set.Optimize(ctx); err != nil {
			if errors.Is(err, segment.ErrClosed) {
				return ErrClosed
			}
			return fmt.Errorf("optimize vector %q: %w", name, err)
		}
	}
	return nil
}
