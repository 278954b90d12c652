package replica

import (
	"context"
	"fmt"
	"sync/atomic"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
	bolt "go.etcd.io/bbolt"
)

// Request states: a queued request is either taken by the committer or
// abandoned by its caller, never both, so an error return from Apply
// always means "not applied".
const (
	stateQueued int32 = iota
	stateTaken
	stateAbandoned
)

type request struct {
	p     *prepared
	wait  bool
	state atomic.Int32
	done  chan result // buffered; receives exactly one result once taken

	seq        uint64 // set by the committer
	countDelta int64
}

type result struct {
	seq uint64
	err error
}

// maxBatchBytes caps the encoded operations of one transaction.
const maxBatchBytes = 64 << 20

// Apply validates op, logs and applies it, and returns the sequence number
// it was given. A *ValidationError means op was refused as a whole.
//
// Apply returns once the transaction holding op has committed (fsynced):
// the op is durable and visible to Get and Scroll. With wait it also
// waits until the op is visible to Search (applied to the in-memory
// indexes), which happens right after the commit.
//
// ctx is honoured while op waits in the queue: if it ends before the
// committer takes op, Apply returns ctx's error and op is never applied.
// Once taken, Apply waits for the commit (one transaction).
func (r *Replica) Apply(ctx context.Context, op *shoalv1.Operation, wait bool) (uint64, error) {
	select {
	case <-r.closing:
		return 0, ErrClosed
	default:
	}
	p, err := r.prepare(op)
	if err != nil {
		return 0, err
	}
	req := &request{p: p, wait: wait, done: make(chan result, 1)}
	select {
	case r.queue <- req:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-r.closing:
		return 0, ErrClosed
	}
	r.pending.Add(1)
	defer r.pending.Add(-1)
	select {
	case res := <-req.done:
		return res.seq, res.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return 0, ctx.Err()
		}
	case <-r.stopped:
		// The committer exited without seeing req (it raced Close).
		if req.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return 0, ErrClosed
		}
	}
	res := <-req.done
	return res.seq, res.err
}

// commitLoop is the single committer. It exits, after committing what is
// queued, when Close starts.
func (r *Replica) commitLoop() {
	defer close(r.stopped)
	for {
		var first *request
		select {
		case first = <-r.queue:
		case <-r.closing:
			// Commit whatever is already queued, then stop.
			for {
				batch := r.collect(nil)
				if len(batch) == 0 {
					return
				}
				r.commit(batch)
			}
		}
		if batch := r.collect(first); len(batch) > 0 {
			r.commit(batch)
		}
	}
}

// collect takes first (if any) and whatever else is queued, up to the
// batch limits, skipping requests their callers abandoned.
func (r *Replica) collect(first *request) []*request {
	var batch []*request
	size := 0
	take := func(req *request) {
		if req.state.CompareAndSwap(stateQueued, stateTaken) {
			batch = append(batch, req)
			size += len(req.p.encoded)
		}
	}
	if first != nil {
		take(first)
	}
	for len(batch) < r.opts.MaxBatch && size < maxBatchBytes {
		select {
		case req := <-r.queue:
			take(req)
		default:
			return batch
		}
	}
	return batch
}

// commit writes a batch in one transaction, then applies it to memory and
// answers every caller.
func (r *Replica) commit(batch []*request) {
	term := r.term.Load()
	r.mu.RLock()
	seq := r.lastSeq
	r.mu.RUnlock()
	err := r.db.Update(func(tx *bolt.Tx) error {
		walB, points, meta := tx.Bucket(wal.Bucket), tx.Bucket(bucketPoints), tx.Bucket(bucketMeta)
		for _, req := range batch {
			seq++
			req.seq = seq
			if err := wal.Append(walB, term, seq, req.p.encoded); err != nil {
				return err
			}
			delta, err := writePoints(points, req.p, seq)
			if err != nil {
				return err
			}
			req.countDelta = delta
		}
		if err := putU64(meta, keyLastSeq, seq); err != nil {
			return fmt.Errorf("store last seq: %w", err)
		}
		if err := putU64(meta, keyLastTerm, term); err != nil {
			return fmt.Errorf("store last term: %w", err)
		}
		if keep := uint64(r.opts.WALRetention); seq > keep {
			return wal.Truncate(walB, seq-keep+1)
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("commit %d operations to %s: %w", len(batch), r.path, err)
		r.log.Error().Err(err).Msg("replica commit failed")
		for _, req := range batch {
			req.done <- result{err: err}
		}
		return
	}
	r.commits.Add(1)
	r.ops.Add(uint64(len(batch)))
	for _, req := range batch {
		if !req.wait {
			req.done <- result{seq: req.seq}
		}
	}
	r.applyToMemory(batch, term)
	for _, req := range batch {
		if req.wait {
			req.done <- result{seq: req.seq}
		}
	}
}

// writePoints stores an op's effect on the points bucket and returns the
// change in the number of points.
func writePoints(b *bolt.Bucket, p *prepared, seq uint64) (int64, error) {
	var delta int64
	for _, pp := range p.upserts {
		k := []byte(pp.key)
		if b.Get(k) == nil {
			delta++
		}
		if err := b.Put(k, withVersion(pp.record, seq)); err != nil {
			return 0, fmt.Errorf("store point %x: %w", k, err)
		}
	}
	for _, key := range p.deletes {
		k := []byte(key)
		if b.Get(k) == nil {
			continue
		}
		delta--
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("delete point %x: %w", k, err)
		}
	}
	return delta, nil
}

// applyToMemory mirrors a committed batch in the indexes. An upsert
// replaces the point's vectors: names it leaves out are removed.
func (r *Replica) applyToMemory(batch []*request, term uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, req := range batch {
		for _, pp := range req.p.upserts {
			for name, idx := range r.indexes {
				if v, ok := pp.vectors[name]; ok {
					idx.Upsert(pp.key, v)
				} else {
					idx.Delete(pp.key)
				}
			}
		}
		for _, key := range req.p.deletes {
			for _, idx := range r.indexes {
				idx.Delete(key)
			}
		}
		r.count = uint64(int64(r.count) + req.countDelta)
		r.lastSeq = req.seq
	}
	r.lastTerm = term
}
