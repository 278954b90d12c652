package replica

import (
	"context"
	"math"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/index"
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

// Scroll returns up to limit points ordered by id (integers, then UUIDs),
// starting at offset (inclusive; nil starts at the lowest id), and the id
// after the last one returned, nil at the end.
func (r *Replica) Scroll(ctx context.Context, offset *shoalv1.PointID, limit uint32, withPayload bool, withVector *shoalv1.WithVector) ([]*shoalv1.Point, *shoalv1.PointID, error) {
	if err := r.checkWithVector(withVector); err != nil {
		return nil, nil, err
	}
	var start []byte
	if offset != nil {
		k, err := keyOf(offset)
		if err != nil {
			return nil, nil, err
		}
		start = []byte(k)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	leave, err := r.reading()
	if err != nil {
		return nil, nil, err
	}
	defer leave()
	var (
		out  []*shoalv1.Point
		next *shoalv1.PointID
	)
	err = r.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPoints).Cursor()
		k, v := c.First()
		if start != nil {
			k, v = c.Seek(start)
		}
		for ; k != nil; k, v = c.Next() {
			if uint32(len(out)) >= limit {
				id, err := pointid.FromKey(k)
				if err != nil {
					return err
				}
				next = id
				return nil
			}
			p, err := decodePoint(v)
			if err != nil {
				return err
			}
			out = append(out, project(p, withPayload, withVector))
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

// Search returns the limit best points for req's vector among the vectors
// named req.Using, best first (equal scores by id). A score_threshold is a
// lower bound for Cosine and Dot and an upper bound for Euclid and
// Manhattan; scores are reported as Qdrant reports them. The shard ref,
// exact and hnsw_ef fields are ignored (every search is exact today).
func (r *Replica) Search(ctx context.Context, req *shoalv1.SearchRequest) ([]*shoalv1.ScoredPoint, error) {
	sp, ok := r.spaces[req.GetUsing()]
	if !ok {
		if req.GetUsing() == "" {
			return nil, invalidf("Wrong input: this collection has only named vectors; name the vector to search with")
		}
		return nil, invalidf("Wrong input: Not existing vector name error: %s", req.GetUsing())
	}
	q := req.GetVector().GetData()
	if uint64(len(q)) != sp.params.GetSize() {
		return nil, invalidf("Wrong input: Vector dimension error: expected dim: %d, got %d", sp.params.GetSize(), len(q))
	}
	if !finite(q) {
		return nil, invalidf("Wrong input: query vector contains NaN or infinite values")
	}
	var params index.SearchParams
	if req.ScoreThreshold != nil {
		th := req.GetScoreThreshold()
		if math.IsNaN(float64(th)) {
			return nil, invalidf("Wrong input: score_threshold is NaN")
		}
		params.Threshold = &th
	}
	if err := r.checkWithVector(req.GetWithVector()); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	leave, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer leave()
	if req.GetLimit() == 0 {
		return []*shoalv1.ScoredPoint{}, nil
	}
	q = sp.metric.Prepare(q)
	r.mu.RLock()
	hits := r.indexes[req.GetUsing()].Search(q, int(req.GetLimit()), params)
	r.mu.RUnlock()

	out := make([]*shoalv1.ScoredPoint, 0, len(hits))
	err = r.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPoints)
		for _, h := range hits {
			v := b.Get([]byte(h.Key))
			if v == nil {
				continue // deleted since the index was searched
			}
			p, err := decodePoint(v)
			if err != nil {
				return err
			}
			out = append(out, &shoalv1.ScoredPoint{Point: project(p, req.GetWithPayload(), req.GetWithVector()), Score: h.Score})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
