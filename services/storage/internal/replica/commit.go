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
	p    *prepared
	wait bool
	// job, when set, is exclusive work (replicated entries, an install)
	// the committer runs alone, in queue order with the operations; p is
	// nil then.
	job func() error
	// atTerm, when set, is the term the op was admitted under as a
	// primary's write: the committer refuses it (ErrTermChanged) if the
	// replica follows another term by then.
	atTerm uint64
	state  atomic.Int32
	done   chan result // buffered; receives exactly one result once taken

	// Set by the committer (preset for replicated entries).
	seq  uint64
	term uint64
	eff  effect
	err  error // the op was rejected (not applied, not logged)
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
	return r.submit(ctx, &request{p: p, wait: wait, done: make(chan result, 1)})
}

// ApplyAt is Apply for a primary's write admitted under term: the
// committer logs it only if the replica still follows term when it takes
// the op, else refuses it with ErrTermChanged (not applied, not logged).
// A primary that learns of a newer term while writes are queued thus never
// logs them under the new term, which would make its log look like the new
// primary's while holding other operations.
func (r *Replica) ApplyAt(ctx context.Context, term uint64, op *shoalv1.Operation, wait bool) (uint64, error) {
	select {
	case <-r.closing:
		return 0, ErrClosed
	default:
	}
	p, err := r.prepare(op)
	if err != nil {
		return 0, err
	}
	return r.submit(ctx, &request{p: p, wait: wait, atTerm: term, done: make(chan result, 1)})
}

// submit queues req and waits for its result. ctx is honoured until the
// committer takes req; after that submit waits for the commit.
func (r *Replica) submit(ctx context.Context, req *request) (uint64, error) {
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

// barrier reports whether req must start a batch: a job, or an operation
// resolving a filter.
func (req *request) barrier() bool { return req.job != nil || req.p.barrier() }

// commitLoop is the single committer. It exits, after committing what is
// queued, when Close starts.
func (r *Replica) commitLoop() {
	defer close(r.stopped)
	for {
		first := r.carried()
		if first == nil {
			select {
			case first = <-r.queue:
			case <-r.closing:
				// Commit whatever is already queued, then stop.
				for {
					first := r.carried()
					if first == nil {
						select {
						case first = <-r.queue:
						default:
							return
						}
					}
					if batch := r.collect(first); len(batch) > 0 {
						r.commit(batch)
					}
				}
			}
		}
		if batch := r.collect(first); len(batch) > 0 {
			r.commit(batch)
		}
	}
}

// carried returns (and clears) the request the last collect held back.
func (r *Replica) carried() *request {
	c := r.carry
	r.carry = nil
	return c
}

// collect takes first (if any) and whatever else is queued, up to the
// batch limits, skipping requests their callers abandoned. A barrier
// request (one resolving a filter) only ever starts a batch: collect
// holds it back for the next one. A job is always a batch of its own.
func (r *Replica) collect(first *request) []*request {
	var batch []*request
	size := 0
	take := func(req *request) bool {
		if req.barrier() && len(batch) > 0 {
			r.carry = req
			return false
		}
		if req.state.CompareAndSwap(stateQueued, stateTaken) {
			batch = append(batch, req)
			if req.job == nil {
				size += len(req.p.encoded)
			}
		}
		return req.job == nil && !req.p.vectorOp()
	}
	if first != nil && !take(first) {
		return batch
	}
	for len(batch) < r.opts.MaxBatch && size < maxBatchBytes {
		select {
		case req := <-r.queue:
			if !take(req) {
				return batch
			}
		default:
			return batch
		}
	}
	return batch
}

// commit applies a batch in one transaction, then mirrors it in memory and
// answers every caller. An operation rejected at apply time (a point that
// does not exist) gets its error and takes no sequence number; the others
// commit.
func (r *Replica) commit(batch []*request) {
	if job := batch[0].job; job != nil {
		batch[0].done <- result{err: job()}
		return
	}
	term := r.term.Load()
	r.mu.RLock()
	seq := r.lastSeq
	r.mu.RUnlock()
	err := r.db.Update(func(tx *bolt.Tx) error {
		walB, meta := tx.Bucket(wal.Bucket), tx.Bucket(bucketMeta)
		start := seq
		for _, req := range batch {
			if req.atTerm != 0 && req.atTerm != term {
				req.err = fmt.Errorf("%w: admitted at term %d, the replica follows term %d", ErrTermChanged, req.atTerm, term)
				continue
			}
			eff, err := r.apply(tx, req.p, seq+1)
			if err != nil {
				if rejected(err) {
					req.err = err
					continue
				}
				return err
			}
			seq++
			req.seq, req.term, req.eff = seq, term, eff
			if err := wal.Append(walB, term, seq, req.p.encoded); err != nil {
				return err
			}
		}
		if seq == start {
			return nil
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
		switch {
		case req.err != nil:
			req.done <- result{err: req.err}
		case !req.wait:
			req.done <- result{seq: req.seq}
		}
	}
	r.applyToMemory(batch)
	for _, req := range batch {
		if req.err == nil && req.wait {
			req.done <- result{seq: req.seq}
		}
	}
}
