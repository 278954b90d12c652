package replica

import (
	"context"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
	bolt "go.etcd.io/bbolt"
)

// Count returns the number of points held.
func (r *Replica) Count(ctx context.Context) (uint64, error) {
	leave, err := r.reading()
	if err != nil {
		return 0, err
	}
	defer leave()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count, nil
}

// Get returns the points of ids that exist, in request order, each id
// once. withVector selects the vectors returned (nil: none).
func (r *Replica) Get(ctx context.Context, ids []*shoalv1.PointID, withPayload bool, withVector *shoalv1.WithVector) ([]*shoalv1.Point, error) {
	if err := r.checkWithVector(withVector); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		k, err := keyOf(id)
		if err != nil {
			return nil, err
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	leave, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer leave()
	out := make([]*shoalv1.Point, 0, len(keys))
	err = r.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPoints)
		for _, k := range keys {
			v := b.Get([]byte(k))
			if v == nil {
				continue
			}
			p, err := decodePoint(v)
			if err != nil {
				return err
			}
			out = append(out, project(p, withPayload, withVector))
		}
		return nil
	})
	return out, err
}

// ReadWAL calls fn for every retained WAL record with seq >= from, in
// order. A record that fails its checksum stops the read with an error
// wrapping wal.ErrCorrupt. fn runs inside a read transaction: it must not
// call Apply.
func (r *Replica) ReadWAL(ctx context.Context, from uint64, fn func(wal.Entry) error) error {
	leave, err := r.reading()
	if err != nil {
		return err
	}
	defer leave()
	return r.db.View(func(tx *bolt.Tx) error {
		return wal.Read(tx.Bucket(wal.Bucket), from, func(e wal.Entry) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return fn(e)
		})
	})
}
