package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Position is a place in a replica's log: the (term, seq) of its newest
// record; (0, 0) before the first.
type Position struct {
	Term, Seq uint64
}

// ErrBadSnapshot is returned (wrapped) for a file that is not a usable
// replica snapshot.
var ErrBadSnapshot = errors.New("not a usable replica snapshot")

// WriteSnapshot writes a consistent copy of the whole replica file to w,
// read in one read transaction (bbolt's Tx.WriteTo): points, the retained
// WAL, the meta bucket with the position, field index definitions and
// the sealed HNSW segments, so a replica opened from the copy needs no
// re-indexing. It returns the position the copy holds. A replica in the
// middle of an install refuses (its content is an unknown part of another
// copy).
//
// The read transaction stays open while w takes the bytes: a slow w keeps
// the file from reusing freed pages, and Close waits for it. ctx is
// checked between writes to w; ending it ends the copy with its error.
func (r *Replica) WriteSnapshot(ctx context.Context, w io.Writer) (Position, error) {
	leave, err := r.reading()
	if err != nil {
		return Position{}, err
	}
	defer leave()
	var pos Position
	err = r.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyInstalling) != nil {
			return fmt.Errorf("%w: an install is in progress", ErrBadSnapshot)
		}
		pos = Position{Term: u64(meta.Get(keyLastTerm)), Seq: u64(meta.Get(keyLastSeq))}
		_, err := tx.WriteTo(&ctxWriter{ctx: ctx, closing: r.closing, w: w})
		return err
	})
	if err != nil {
		return Position{}, fmt.Errorf("snapshot replica %s: %w", r.path, err)
	}
	return pos, nil
}

// ctxWriter fails writes once ctx ends or the replica closes.
type ctxWriter struct {
	ctx     context.Context
	closing <-chan struct{}
	w       io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	select {
	case <-c.closing:
		return 0, ErrClosed
	default:
	}
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// SnapshotInfo describes a snapshot file: the position it holds and the
// collection config stored in it.
type SnapshotInfo struct {
	Position Position
	Config   *shoalv1.CollectionConfig
	Points   uint64
}

// CheckSnapshot opens the file at path read-only and checks that it is a
// complete replica file: as long as its pages say (a truncated file is
// refused before any page past its end is read), every page consistent
// (bbolt's Tx.Check), every bucket present, a config stored, no install in
// progress, the WAL's newest record agreeing with the stored position. It
// reads the whole file. The file is not changed.
func CheckSnapshot(path string) (info SnapshotInfo, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("%w: open %s: %v", ErrBadSnapshot, path, err)
	}
	defer db.Close()
	// A damaged file can make bbolt panic while it walks the pages.
	defer func() {
		if p := recover(); p != nil {
			info, err = SnapshotInfo{}, fmt.Errorf("%w: damaged file: %v", ErrBadSnapshot, p)
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Size() > st.Size() {
			return fmt.Errorf("%w: the file holds %d bytes, its pages need %d", ErrBadSnapshot, st.Size(), tx.Size())
		}
		var first error
		for cerr := range tx.Check() { // drained: Check's goroutine ends
			if first == nil {
				first = cerr
			}
		}
		if first != nil {
			return fmt.Errorf("%w: %v", ErrBadSnapshot, first)
		}
		for _, name := range [][]byte{wal.Bucket, bucketPoints, bucketMeta, bucketFieldIndexes, bucketSegments} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: bucket %s missing", ErrBadSnapshot, name)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyInstalling) != nil {
			return fmt.Errorf("%w: taken during an install", ErrBadSnapshot)
		}
		raw := meta.Get(keyConfig)
		if raw == nil {
			return fmt.Errorf("%w: no collection config", ErrBadSnapshot)
		}
		info.Config = &shoalv1.CollectionConfig{}
		if err := proto.Unmarshal(raw, info.Config); err != nil {
			return fmt.Errorf("%w: config: %v", ErrBadSnapshot, err)
		}
		info.Position = Position{Term: u64(meta.Get(keyLastTerm)), Seq: u64(meta.Get(keyLastSeq))}
		last, ok, err := wal.Last(tx.Bucket(wal.Bucket))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadSnapshot, err)
		}
		if ok && (last.Seq != info.Position.Seq || last.Term != info.Position.Term) {
			return fmt.Errorf("%w: wal ends at (term %d, seq %d), meta says (term %d, seq %d)",
				ErrBadSnapshot, last.Term, last.Seq, info.Position.Term, info.Position.Seq)
		}
		info.Points = uint64(tx.Bucket(bucketPoints).Stats().KeyN)
		return nil
	})
	if err != nil {
		return SnapshotInfo{}, err
	}
	return info, nil
}

// Rebase starts the replica's log afresh at pos: every retained WAL
// record is deleted and the replica's position becomes pos, which must
// lie beyond its current one. Replicas whose log ends anywhere before pos
// cannot continue from this one's log and need a full copy. A primary
// that restored its replica from a snapshot rebases it past everything it
// had logged before, so no follower mistakes its older log for a prefix
// of the restored one. The replica's term becomes at least pos.Term.
func (r *Replica) Rebase(ctx context.Context, pos Position) error {
	job := func() error {
		err := r.db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if cur := u64(meta.Get(keyLastSeq)); pos.Seq <= cur {
				return fmt.Errorf("rebase to seq %d: the log already reaches seq %d", pos.Seq, cur)
			}
			if err := tx.DeleteBucket(wal.Bucket); err != nil {
				return fmt.Errorf("drop log: %w", err)
			}
			if _, err := tx.CreateBucket(wal.Bucket); err != nil {
				return fmt.Errorf("recreate log: %w", err)
			}
			var base [16]byte
			binary.BigEndian.PutUint64(base[:], pos.Term)
			binary.BigEndian.PutUint64(base[8:], pos.Seq)
			if err := meta.Put(keyLogBase, base[:]); err != nil {
				return fmt.Errorf("store log base: %w", err)
			}
			if err := putU64(meta, keyLastSeq, pos.Seq); err != nil {
				return err
			}
			return putU64(meta, keyLastTerm, pos.Term)
		})
		if err != nil {
			return fmt.Errorf("rebase %s to (term %d, seq %d): %w", r.path, pos.Term, pos.Seq, err)
		}
		r.SetTerm(pos.Term)
		r.mu.Lock()
		r.lastTerm, r.lastSeq = pos.Term, pos.Seq
		r.mu.Unlock()
		r.signalAppended()
		return nil
	}
	_, err := r.submit(ctx, &request{job: job, done: make(chan result, 1)})
	return err
}

// Fits reports whether a replica of a collection with config cfg can be
// opened from the snapshot: the vector names, sizes and distances agree.
func (i SnapshotInfo) Fits(cfg *shoalv1.CollectionConfig) error {
	if err := sameVectors(i.Config, cfg); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	return nil
}
