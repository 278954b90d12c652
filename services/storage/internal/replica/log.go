package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// ErrCompacted is returned (wrapped) by ReadLog when the records asked
// for are no longer retained: the follower must be installed instead.
var ErrCompacted = errors.New("wal records no longer retained")

// ErrBeyondEnd is returned (wrapped) by ReadLog asked for records after a
// seq the log does not reach: the asker's log is longer than this one's.
var ErrBeyondEnd = errors.New("seq beyond the end of the log")

// walHeaderLen is the header of a WAL record value (term, CRC-32C) in
// front of the encoded operation; see package wal.
const walHeaderLen = 8 + 4

// keyLogBase (meta bucket) is the position (term | seq, 16 bytes) an
// install left the replica at: the record just before the first WAL
// record it holds. Absent for a replica that was never installed.
var keyLogBase = []byte("log_base")

// LogResult is a follower's answer to a batch of a primary's log.
type LogResult struct {
	// Accepted is false when the batch was refused (stale term, or it
	// does not follow the replica's log); nothing was applied then.
	Accepted bool
	// (LastTerm, LastSeq) is the replica's newest record after the call.
	LastTerm, LastSeq uint64
}

// ApplyLog appends a primary's contiguous entries (term, seq, encoded
// Operation exactly as the primary logged it) after (prevTerm, prevSeq).
//
// A term below the replica's (see Term) is a stale primary: Accepted is
// false and nothing is applied. Otherwise the replica's term becomes term.
// The batch is accepted when (prevTerm, prevSeq) is the replica's newest
// record, or when it overlaps the replica's log and its entry at the
// replica's last seq has the replica's last term (the overlap is skipped).
// Any other batch (a gap, or a diverged log) is refused with the
// replica's position: the caller resends from there or installs the
// replica. ApplyLog never truncates the replica's log.
//
// Accepted entries are applied by the committer (in order with every
// other write), in few transactions, keeping their seq and term (WAL
// records, point versions, last (term, seq)). They are durable and
// visible to Search when ApplyLog returns. A replicated operation naming
// points the replica lacks applies to the points it has. An error (a
// malformed batch, an entry the replica cannot apply, a failed commit, a
// replica whose install has not ended) means the entries from the failing one on were not applied; the
// returned position says how far the replica got.
func (r *Replica) ApplyLog(ctx context.Context, term, prevTerm, prevSeq uint64, entries []*shoalv1.LogEntry) (LogResult, error) {
	select {
	case <-r.closing:
		return LogResult{}, ErrClosed
	default:
	}
	preps := make([]*prepared, len(entries))
	for i, e := range entries {
		if e.GetSeq() != prevSeq+1+uint64(i) {
			return LogResult{}, fmt.Errorf("apply log: entry %d has seq %d, want %d", i, e.GetSeq(), prevSeq+1+uint64(i))
		}
		if e.GetTerm() > term {
			return LogResult{}, fmt.Errorf("apply log: entry seq %d has term %d above the primary's %d", e.GetSeq(), e.GetTerm(), term)
		}
		op := &shoalv1.Operation{}
		if err := proto.Unmarshal(e.GetOp(), op); err != nil {
			return LogResult{}, fmt.Errorf("apply log: decode entry seq %d: %w", e.GetSeq(), err)
		}
		p, err := r.prepareOp(op, true)
		if err != nil {
			return LogResult{}, fmt.Errorf("apply log: entry seq %d: %w", e.GetSeq(), err)
		}
		p.encoded = e.GetOp()
		preps[i] = p
	}
	var res LogResult
	job := func() error {
		var err error
		res, err = r.applyLog(term, prevTerm, prevSeq, entries, preps)
		return err
	}
	_, err := r.submit(ctx, &request{job: job, done: make(chan result, 1)})
	if err != nil && res == (LogResult{}) {
		res.LastTerm, res.LastSeq = r.LastApplied()
	}
	return res, err
}

// applyLog runs in the committer (the only writer of lastTerm/lastSeq).
func (r *Replica) applyLog(term, prevTerm, prevSeq uint64, entries []*shoalv1.LogEntry, preps []*prepared) (LogResult, error) {
	lastTerm, lastSeq := r.lastTerm, r.lastSeq
	if r.installing.Load() {
		return LogResult{LastTerm: lastTerm, LastSeq: lastSeq}, fmt.Errorf("apply log to %s: an install has begun and not ended", r.path)
	}
	if term < r.term.Load() {
		return LogResult{LastTerm: lastTerm, LastSeq: lastSeq}, nil
	}
	r.SetTerm(term)
	skip := 0
	if prevTerm != lastTerm || prevSeq != lastSeq {
		if lastSeq <= prevSeq || lastSeq > prevSeq+uint64(len(entries)) {
			return LogResult{LastTerm: lastTerm, LastSeq: lastSeq}, nil
		}
		skip = int(lastSeq - prevSeq)
		if entries[skip-1].GetTerm() != lastTerm {
			return LogResult{LastTerm: lastTerm, LastSeq: lastSeq}, nil
		}
	}
	entries, preps = entries[skip:], preps[skip:]
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && n < r.opts.MaxBatch && size < maxBatchBytes {
			// A filter is resolved against the in-memory payload indexes:
			// it must come first in its transaction.
			if n > 0 && preps[n].barrier() {
				break
			}
			size += len(preps[n].encoded)
			n++
			if preps[n-1].vectorOp() {
				break // alone in its transaction, like a barrier
			}
		}
		if err := r.commitEntries(entries[:n], preps[:n]); err != nil {
			return LogResult{Accepted: true, LastTerm: r.lastTerm, LastSeq: r.lastSeq}, err
		}
		entries, preps = entries[n:], preps[n:]
	}
	return LogResult{Accepted: true, LastTerm: r.lastTerm, LastSeq: r.lastSeq}, nil
}

// commitEntries applies replicated entries in one transaction, then to
// memory.
func (r *Replica) commitEntries(entries []*shoalv1.LogEntry, preps []*prepared) error {
	batch := make([]*request, len(entries))
	err := r.db.Update(func(tx *bolt.Tx) error {
		walB, meta := tx.Bucket(wal.Bucket), tx.Bucket(bucketMeta)
		for i, e := range entries {
			eff, err := r.apply(tx, preps[i], e.GetSeq())
			if err != nil {
				return fmt.Errorf("entry seq %d: %w", e.GetSeq(), err)
			}
			batch[i] = &request{p: preps[i], seq: e.GetSeq(), term: e.GetTerm(), eff: eff}
			if err := wal.Append(walB, e.GetTerm(), e.GetSeq(), e.GetOp()); err != nil {
				return err
			}
		}
		last := entries[len(entries)-1]
		if err := putU64(meta, keyLastSeq, last.GetSeq()); err != nil {
			return fmt.Errorf("store last seq: %w", err)
		}
		if err := putU64(meta, keyLastTerm, last.GetTerm()); err != nil {
			return fmt.Errorf("store last term: %w", err)
		}
		if keep := uint64(r.opts.WALRetention); last.GetSeq() > keep {
			return wal.Truncate(walB, last.GetSeq()-keep+1)
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("apply log seq %d..%d to %s: %w", entries[0].GetSeq(), entries[len(entries)-1].GetSeq(), r.path, err)
		r.log.Error().Err(err).Msg("replica apply log failed")
		return err
	}
	r.commits.Add(1)
	r.ops.Add(uint64(len(batch)))
	r.applyToMemory(batch)
	return nil
}

// ReadLog returns up to max records (at least one) with seq > after, in
// order, stopping once they hold maxBytes of encoded operations (no byte
// limit when maxBytes <= 0; at least one record is returned anyway), and
// the term of record after (0 when after is 0). It reads what is
// committed, which may run a little ahead of LastApplied. after equal to
// the last seq gives no entries and the last term; after beyond it gives
// ErrBeyondEnd (wrapped). ErrCompacted (wrapped) when record after, or
// after+1, is no longer retained (the asker needs an install).
func (r *Replica) ReadLog(ctx context.Context, after uint64, max, maxBytes int) (prevTerm uint64, entries []*shoalv1.LogEntry, err error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	leave, err := r.reading()
	if err != nil {
		return 0, nil, err
	}
	defer leave()
	if max <= 0 {
		max = 1
	}
	err = r.db.View(func(tx *bolt.Tx) error {
		walB, meta := tx.Bucket(wal.Bucket), tx.Bucket(bucketMeta)
		lastSeq := u64(meta.Get(keyLastSeq))
		if after > lastSeq {
			return fmt.Errorf("read log after seq %d: the log ends at seq %d: %w", after, lastSeq, ErrBeyondEnd)
		}
		t, ok, err := termAt(walB, meta, after)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("read log after seq %d: %w", after, ErrCompacted)
		}
		prevTerm = t
		size := 0
		c := walB.Cursor()
		want := after + 1
		for k, v := c.Seek(wal.Key(want)); k != nil && len(entries) < max && (maxBytes <= 0 || size < maxBytes); k, v = c.Next() {
			e, err := wal.Decode(k, v)
			if err != nil {
				return err
			}
			if e.Seq != want {
				return fmt.Errorf("read log after seq %d: record %d: %w", after, want, ErrCompacted)
			}
			op := append([]byte(nil), v[walHeaderLen:]...)
			entries = append(entries, &shoalv1.LogEntry{Term: e.Term, Seq: e.Seq, Op: op})
			size += len(op)
			want++
		}
		if len(entries) == 0 && after < lastSeq {
			return fmt.Errorf("read log after seq %d: record %d: %w", after, want, ErrCompacted)
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("replica %s: %w", r.path, err)
	}
	return prevTerm, entries, nil
}

// TermAt returns the term of record seq: a retained WAL record, the last
// record, or the record an install started the log after. ok is false for
// a record no longer retained or beyond the end. TermAt(0) is (0, true).
func (r *Replica) TermAt(ctx context.Context, seq uint64) (term uint64, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	leave, err := r.reading()
	if err != nil {
		return 0, false, err
	}
	defer leave()
	err = r.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if seq > u64(meta.Get(keyLastSeq)) {
			return nil
		}
		term, ok, err = termAt(tx.Bucket(wal.Bucket), meta, seq)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("replica %s: term at %d: %w", r.path, seq, err)
	}
	return term, ok, nil
}

// termAt finds the term of record seq (not beyond the end) in a
// transaction.
func termAt(walB, meta *bolt.Bucket, seq uint64) (uint64, bool, error) {
	if seq == 0 {
		return 0, true, nil
	}
	if v := walB.Get(wal.Key(seq)); v != nil {
		e, err := wal.Decode(wal.Key(seq), v)
		if err != nil {
			return 0, false, err
		}
		return e.Term, true, nil
	}
	if seq == u64(meta.Get(keyLastSeq)) {
		return u64(meta.Get(keyLastTerm)), true, nil
	}
	if base := meta.Get(keyLogBase); len(base) == 16 && binary.BigEndian.Uint64(base[8:]) == seq {
		return binary.BigEndian.Uint64(base), true, nil
	}
	return 0, false, nil
}

// Appended returns a channel closed once the replica's last seq has
// advanced (or the replica closes). Take the channel, then read the log
// (ReadLog, LastApplied), then wait on it: no advance is missed. Each
// advance replaces the channel, so call Appended again after each wake.
func (r *Replica) Appended() <-chan struct{} {
	r.appendMu.Lock()
	defer r.appendMu.Unlock()
	if r.appended == nil {
		ch := make(chan struct{})
		select {
		case <-r.closing:
			close(ch)
			return ch
		default:
		}
		r.appended = ch
	}
	return r.appended
}

// signalAppended wakes the waiters of Appended.
func (r *Replica) signalAppended() {
	r.appendMu.Lock()
	defer r.appendMu.Unlock()
	if r.appended != nil {
		close(r.appended)
		r.appended = nil
	}
}
