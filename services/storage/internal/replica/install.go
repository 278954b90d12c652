package replica

import (
	"context"
	"encoding/binary"
	"fmt"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/payloadindex"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Snapshot is the position and field indexes of an Export.
type Snapshot struct {
	// (LastTerm, LastSeq) is the newest record the exported points hold.
	LastTerm, LastSeq uint64
	// FieldIndexes are the payload indexes defined at that position.
	FieldIndexes []*shoalv1.CreateFieldIndex
	// Vectors and Named are the vector spaces at that position.
	Vectors map[string]*shoalv1.VectorParams
	Named   bool
}

// Export calls fn with batches of up to batch points (ids, versions, every
// vector, payloads) read from one consistent read transaction, in key
// order, and returns that snapshot's position and field index
// definitions (batch <= 0 means 256). fn may keep the slice and points.
// An error from fn ends the export with that error (wrapped).
//
// The read transaction stays open until fn has seen every batch: a slow
// fn keeps the file from reusing freed pages meanwhile, writes that grow
// the file wait for it, and Close waits for it. Export stops at the next
// batch once ctx ends or the replica is closing.
func (r *Replica) Export(ctx context.Context, batch int, fn func([]*shoalv1.Point) error) (Snapshot, error) {
	return r.ExportWithVectors(ctx, batch, nil, fn)
}

// ExportWithVectors is Export that first calls start (when not nil) with
// the snapshot's vector spaces (Snapshot.Vectors and Named), before any
// batch: a copy must take them before its points.
func (r *Replica) ExportWithVectors(ctx context.Context, batch int, start func(Snapshot) error, fn func([]*shoalv1.Point) error) (Snapshot, error) {
	leave, err := r.reading()
	if err != nil {
		return Snapshot{}, err
	}
	defer leave()
	if batch <= 0 {
		batch = 256
	}
	var snap Snapshot
	err = r.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		snap.LastTerm, snap.LastSeq = u64(meta.Get(keyLastTerm)), u64(meta.Get(keyLastSeq))
		stored := &shoalv1.CollectionConfig{}
		if err := proto.Unmarshal(meta.Get(keyConfig), stored); err != nil {
			return fmt.Errorf("decode stored config: %w", err)
		}
		snap.Vectors, snap.Named = stored.GetVectors(), stored.GetNamed()
		if start != nil {
			if err := start(snap); err != nil {
				return err
			}
		}
		err := tx.Bucket(bucketFieldIndexes).ForEach(func(k, v []byte) error {
			snap.FieldIndexes = append(snap.FieldIndexes, &shoalv1.CreateFieldIndex{Field: string(k), SchemaJson: append([]byte(nil), v...)})
			return nil
		})
		if err != nil {
			return err
		}
		buf := make([]*shoalv1.Point, 0, batch)
		c := tx.Bucket(bucketPoints).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			p, err := decodePoint(v)
			if err != nil {
				return fmt.Errorf("point %x: %w", k, err)
			}
			buf = append(buf, p)
			if len(buf) == batch {
				if err := r.interrupted(ctx); err != nil {
					return err
				}
				if err := fn(buf); err != nil {
					return err
				}
				buf = make([]*shoalv1.Point, 0, batch)
			}
		}
		if len(buf) > 0 {
			return fn(buf)
		}
		return nil
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("export replica %s: %w", r.path, err)
	}
	return snap, nil
}

// keyInstalling (meta bucket) marks a replica whose install has begun and
// not ended: its points are an unknown part of a snapshot.
var keyInstalling = []byte("installing")

// InstallPoints writes points keeping their versions, as an Export of
// another replica gave them: no WAL record, the position does not move.
// The replica must not have taken a logged write (its last seq is 0) nor
// have been installed to a position: the node creates a fresh, empty
// replica for an install. Vectors are stored as given (already prepared by
// the source). The points are durable, and searchable, on return.
//
// From the first InstallPoints until InstallDone the replica is marked
// installing (also across a reopen: see Installing), and ApplyLog refuses
// it. A replica whose install was interrupted holds part of a snapshot:
// discard it and install into a fresh one.
func (r *Replica) InstallPoints(ctx context.Context, points []*shoalv1.Point) error {
	type entry struct {
		key string
		rec []byte
		c   change
	}
	entries := make([]entry, 0, len(points))
	for i, pt := range points {
		key, err := keyOf(pt.GetId())
		if err != nil {
			return fmt.Errorf("install point %d: %w", i, err)
		}
		c := change{key: key, vectors: map[string][]float32{}, replaceAll: true, payloadSet: true, payload: pt.GetPayload()}
		for name, v := range pt.GetVectors() {
			sp, ok := r.vs().spaces[name]
			if !ok || uint64(len(v.GetData())) != sp.params.GetSize() {
				return fmt.Errorf("install point %x: vector %q does not fit the config", key, name)
			}
			c.vectors[name] = v.GetData()
		}
		rec, err := proto.MarshalOptions{Deterministic: true}.Marshal(pt)
		if err != nil {
			return fmt.Errorf("install point %x: encode: %w", key, err)
		}
		entries = append(entries, entry{key: key, rec: rec, c: c})
	}
	job := func() error {
		var added uint64
		err := r.db.Update(func(tx *bolt.Tx) error {
			if err := installable(tx); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMeta).Put(keyInstalling, []byte{1}); err != nil {
				return fmt.Errorf("mark installing: %w", err)
			}
			b := tx.Bucket(bucketPoints)
			for _, e := range entries {
				if b.Get([]byte(e.key)) == nil {
					added++
				}
				if err := b.Put([]byte(e.key), e.rec); err != nil {
					return fmt.Errorf("store point %x: %w", e.key, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("install %d points into %s: %w", len(entries), r.path, err)
		}
		r.installing.Store(true)
		indexed := r.payload.Len() > 0
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range entries {
			var payload map[string]any
			if indexed {
				payload, _ = filter.DecodePayload(e.c.payload)
			}
			r.applyChange(e.c, payload)
		}
		r.count += added
		return nil
	}
	_, err := r.submit(ctx, &request{job: job, done: make(chan result, 1)})
	return err
}

// Installing reports whether an install has begun (InstallPoints) and not
// ended (InstallDone), in this process or before a reopen.
func (r *Replica) Installing() bool { return r.installing.Load() }

// loadInstalling reads the installing mark at open.
func (r *Replica) loadInstalling() error {
	return r.db.View(func(tx *bolt.Tx) error {
		r.installing.Store(tx.Bucket(bucketMeta).Get(keyInstalling) != nil)
		return nil
	})
}

// installable refuses to install into a replica that has logged writes or
// was already installed.
func installable(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if seq := u64(meta.Get(keyLastSeq)); seq != 0 {
		return fmt.Errorf("replica is not fresh: it holds records up to seq %d", seq)
	}
	if meta.Get(keyLogBase) != nil {
		return fmt.Errorf("replica is not fresh: it was already installed")
	}
	if first, _ := wal.Bounds(tx.Bucket(wal.Bucket)); first != 0 {
		return fmt.Errorf("replica is not fresh: its log holds seq %d", first)
	}
	return nil
}

// InstallDone ends an install: it creates the field indexes (built from
// the installed points) and sets the replica's position to (lastTerm,
// lastSeq), the position of the exported snapshot; ApplyLog then continues
// from there (its next record is lastSeq+1). The replica's term becomes at
// least lastTerm. Like InstallPoints it refuses a replica that is not
// fresh.
func (r *Replica) InstallDone(ctx context.Context, lastTerm, lastSeq uint64, fieldIndexes []*shoalv1.CreateFieldIndex) error {
	type index struct {
		path   filter.Path
		schema payloadindex.Schema
	}
	indexes := make([]index, 0, len(fieldIndexes))
	for _, fi := range fieldIndexes {
		path, err := filter.ParsePath(fi.GetField())
		if err != nil {
			return fmt.Errorf("install field index %q: %w", fi.GetField(), err)
		}
		schema, err := payloadindex.ParseSchema(fi.GetSchemaJson())
		if err != nil {
			return fmt.Errorf("install field index %q: %w", fi.GetField(), err)
		}
		indexes = append(indexes, index{path: path, schema: schema})
	}
	job := func() error {
		err := r.db.Update(func(tx *bolt.Tx) error {
			if err := installable(tx); err != nil {
				return err
			}
			b := tx.Bucket(bucketFieldIndexes)
			for _, ix := range indexes {
				if err := b.Put([]byte(ix.path.String()), ix.schema.JSON()); err != nil {
					return fmt.Errorf("store field index %s: %w", ix.path, err)
				}
			}
			meta := tx.Bucket(bucketMeta)
			if err := meta.Delete(keyInstalling); err != nil {
				return fmt.Errorf("unmark installing: %w", err)
			}
			var base [16]byte
			binary.BigEndian.PutUint64(base[:], lastTerm)
			binary.BigEndian.PutUint64(base[8:], lastSeq)
			if err := meta.Put(keyLogBase, base[:]); err != nil {
				return fmt.Errorf("store log base: %w", err)
			}
			if err := putU64(meta, keyLastSeq, lastSeq); err != nil {
				return fmt.Errorf("store last seq: %w", err)
			}
			if err := putU64(meta, keyLastTerm, lastTerm); err != nil {
				return fmt.Errorf("store last term: %w", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("finish install of %s at (term %d, seq %d): %w", r.path, lastTerm, lastSeq, err)
		}
		built := make([]*payloadindex.Field, 0, len(indexes))
		for _, ix := range indexes {
			// The definition is committed: a failed build is rebuilt by
			// the next Open, like one failing after a logged creation.
			f, err := r.buildField(ix.path, ix.schema)
			if err != nil {
				r.log.Error().Err(err).Str("field", ix.path.String()).Msg("build payload index")
				continue
			}
			built = append(built, f)
		}
		r.installing.Store(false)
		r.SetTerm(lastTerm)
		r.mu.Lock()
		for _, f := range built {
			r.payload.Install(f)
		}
		r.linkFieldsChanged(r.vs())
		r.lastTerm, r.lastSeq = lastTerm, lastSeq
		r.mu.Unlock()
		r.signalAppended()
		return nil
	}
	_, err := r.submit(ctx, &request{job: job, done: make(chan result, 1)})
	return err
}

// interrupted returns ctx's error, or ErrClosed once the replica is
// closing: long reads check it between steps.
func (r *Replica) interrupted(ctx context.Context) error {
	select {
	case <-r.closing:
		return ErrClosed
	default:
	}
	return ctx.Err()
}
