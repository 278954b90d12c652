package replica

import (
	"fmt"

	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/payloadindex"
	bolt "go.etcd.io/bbolt"
)

// applyToMemory mirrors a committed batch in the vector and payload
// indexes. Field indexes the batch creates are built from the committed
// points before the lock is taken (so searches go on meanwhile); the
// changes of the batch that follow a creation are applied to the new
// index again, which is harmless (indexing a point is idempotent).
func (r *Replica) applyToMemory(batch []*request) {
	r.mirrorVectorChange(batch)
	decoded := make([][]map[string]any, len(batch))
	indexed := r.payload.Len() > 0 // only the committer changes the set
	for _, req := range batch {
		if req.err != nil {
			continue
		}
		if ic := req.eff.index; ic != nil && ic.create {
			built, err := r.buildField(ic.field, ic.schema)
			if err != nil {
				r.log.Error().Err(err).Str("field", ic.field.String()).Msg("build payload index")
			}
			ic.built = built
			indexed = true
		}
	}
	for i, req := range batch {
		if req.err != nil || !indexed {
			continue
		}
		decoded[i] = make([]map[string]any, len(req.eff.changes))
		for j, c := range req.eff.changes {
			if c.payloadSet {
				decoded[i][j], _ = filter.DecodePayload(c.payload)
			}
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	from := r.lastSeq
	for i, req := range batch {
		if req.err != nil {
			continue
		}
		for j, c := range req.eff.changes {
			var payload map[string]any
			if decoded[i] != nil {
				payload = decoded[i][j]
			}
			r.applyChange(c, payload)
		}
		if ic := req.eff.index; ic != nil {
			switch {
			case !ic.create:
				r.payload.Drop(ic.field.String())
				for _, set := range r.vs().indexes {
					set.DropLinks(ic.field.String())
				}
			case ic.built != nil:
				r.payload.Install(ic.built)
			}
			r.linkFieldsChanged(r.vs())
		}
		r.count = uint64(int64(r.count) + req.eff.countDelta)
		r.lastSeq, r.lastTerm = req.seq, req.term
	}
	if r.lastSeq != from {
		r.signalAppended()
	}
}

// applyChange mirrors one point's change; payload is its decoded new
// payload when the payload changed and payload indexes exist.
func (r *Replica) applyChange(c change, payload map[string]any) {
	indexes := r.vs().indexes
	if c.deleted {
		for _, idx := range indexes {
			idx.Delete(c.key)
		}
		r.payload.Remove(c.key)
		return
	}
	if c.replaceAll {
		for name, idx := range indexes {
			if v, ok := c.vectors[name]; ok {
				idx.Upsert(c.key, v)
			} else {
				idx.Delete(c.key)
			}
		}
	} else {
		for name, v := range c.vectors {
			if idx := indexes[name]; idx != nil {
				idx.Upsert(c.key, v)
			}
		}
		for _, name := range c.drop {
			if idx := indexes[name]; idx != nil {
				idx.Delete(c.key)
			}
		}
	}
	// A point that stays in a sealed segment (same vector) may match
	// filters differently now.
	for _, idx := range indexes {
		idx.Touch(c.key)
	}
	if c.payloadSet && r.payload.Len() > 0 {
		r.payload.Update(c.key, payload)
	}
}

// buildField builds a payload index over the committed points.
func (r *Replica) buildField(path filter.Path, schema payloadindex.Schema) (*payloadindex.Field, error) {
	f := payloadindex.NewField(path, schema)
	err := r.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPoints).ForEach(func(k, v []byte) error {
			payload, err := filter.DecodePayload(recordPayload(v))
			if err != nil {
				return fmt.Errorf("point %x: %w", k, err)
			}
			f.Set(string(k), payload)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("build index on %s: %w", path, err)
	}
	return f, nil
}
