// Package replica is one shard replica: a bbolt file holding the shard's
// write-ahead log, its points, its metadata and its sealed HNSW segments,
// plus in-memory vector indexes (a segment.Set per vector name) and
// payload indexes for search.
//
// Writes go through Apply. A single committer goroutine takes every queued
// operation and applies the batch in one bbolt transaction (WAL records,
// point writes, last (term, seq)), so concurrent writers share one fsync.
// Each writer is answered after that transaction committed. Reads (Get,
// Scroll, Search, Count) run concurrently with writes.
//
// A follower takes its primary's log through ApplyLog, and a primary
// reads its log for followers with ReadLog; a fresh replica is filled
// from another's Export by InstallPoints and InstallDone. These writes go
// through the same committer, in order with Apply. Digest summarises the
// content to compare replicas.
package replica

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/payloadindex"
	"github.com/shoaldb/shoal/services/storage/internal/segment"
	bolt "go.etcd.io/bbolt"
)

// Options tune a replica; zero values take the defaults.
type Options struct {
	// WALRetention is how many of the newest WAL records are kept
	// (default 10 000).
	WALRetention int
	// MaxBatch caps the operations committed in one transaction
	// (default 1024).
	MaxBatch int
	// QueueSize bounds the operations waiting for the committer
	// (default 4096); Apply blocks (honouring its context) when full.
	QueueSize int
}

func (o *Options) defaults() {
	if o.WALRetention <= 0 {
		o.WALRetention = 10_000
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
}

// space is one vector name of the collection.
type space struct {
	params *shoalv1.VectorParams
	metric distance.Metric
}

// Stats counts the committer's work.
type Stats struct {
	// Commits is the number of committed write transactions.
	Commits uint64
	// Ops is the number of operations they held.
	Ops uint64
	// Pending is the number of Apply calls queued or being committed.
	Pending int64
}

// Replica is one open shard replica. Its methods are safe for concurrent
// use; after Close they return ErrClosed.
type Replica struct {
	path string
	log  zerolog.Logger
	opts Options
	db   *bolt.DB

	// vec is the collection config with its vector spaces, indexes and
	// full-scan thresholds; replaced as a whole (see vectors_config.go).
	vec atomic.Pointer[vectorState]

	// mu guards the in-memory state below; the committer holds it for
	// writing only while applying a committed batch to memory (and reads
	// it without the lock: it is the only writer). The vector state is
	// replaced only under mu (see vectors_config.go); each segment.Set
	// also locks itself, since its optimizer seals and merges segments on
	// its own.
	mu       sync.RWMutex
	payload  *payloadindex.Set
	count    uint64
	lastTerm uint64
	lastSeq  uint64

	carry *request // held back by collect for the next batch (committer only)

	term atomic.Uint64 // term given to new WAL records

	// installing is set from the first InstallPoints until InstallDone
	// (see install.go); ApplyLog refuses such a replica.
	installing atomic.Bool

	queue   chan *request
	closing chan struct{} // closed when Close starts
	stopped chan struct{} // closed when the committer has exited

	// life keeps reads out of a closing database.
	life   sync.RWMutex
	closed bool

	closeOnce sync.Once
	closeErr  error

	// appended is closed (and replaced) whenever lastSeq advances; see
	// Appended.
	appendMu sync.Mutex
	appended chan struct{}

	commits atomic.Uint64
	ops     atomic.Uint64
	pending atomic.Int64
}

// Open opens (creating if needed) the replica file at path with default
// options. See OpenWithOptions.
func Open(path string, cfg *shoalv1.CollectionConfig, log zerolog.Logger) (*Replica, error) {
	return OpenWithOptions(path, cfg, log, Options{})
}

// OpenWithOptions opens (creating if needed) the replica file at path.
// cfg is the collection's config; nil uses the config stored in the file.
// A stored config whose vectors differ from cfg's is an error. Open loads
// every stored vector into memory and checks that the newest WAL record
// is intact.
func OpenWithOptions(path string, cfg *shoalv1.CollectionConfig, log zerolog.Logger, opts Options) (*Replica, error) {
	opts.defaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	r, err := newReplica(db, path, cfg, log, opts)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open replica %s: %w", path, err)
	}
	go r.commitLoop()
	return r, nil
}

func newReplica(db *bolt.DB, path string, cfg *shoalv1.CollectionConfig, log zerolog.Logger, opts Options) (*Replica, error) {
	cfg, term, seq, err := initFile(db, cfg)
	if err != nil {
		return nil, err
	}
	r := &Replica{
		path: path, log: log, opts: opts, db: db,
		payload:  payloadindex.New(),
		lastTerm: term, lastSeq: seq,
		queue:   make(chan *request, opts.QueueSize),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	r.term.Store(term)
	vs, err := newVectorState(cfg)
	if err != nil {
		return nil, err
	}
	r.vec.Store(vs)
	if err := r.loadInstalling(); err != nil {
		return nil, err
	}
	loaders, err := r.openSegments()
	if err == nil {
		err = r.load(loaders)
	}
	if err != nil {
		r.closeSegments()
		return nil, err
	}
	for _, l := range loaders {
		l.Finish()
	}
	return r, nil
}

// load fills the vector indexes (through their loaders: points whose
// vectors a stored sealed segment holds stay there, the others go to the
// appendable segments), the payload indexes (defined in the field_indexes
// bucket) and the point count from the file.
func (r *Replica) load(loaders map[string]*segment.Loader) error {
	return r.db.View(func(tx *bolt.Tx) error {
		var fields []*payloadindex.Field
		err := tx.Bucket(bucketFieldIndexes).ForEach(func(k, v []byte) error {
			path, err := filter.ParsePath(string(k))
			if err != nil {
				return fmt.Errorf("field index %q: %w", k, err)
			}
			schema, err := payloadindex.ParseSchema(v)
			if err != nil {
				return fmt.Errorf("field index %q: %w", k, err)
			}
			fields = append(fields, payloadindex.NewField(path, schema))
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketPoints).ForEach(func(k, v []byte) error {
			p, err := decodePoint(v)
			if err != nil {
				return fmt.Errorf("point %x: %w", k, err)
			}
			r.count++
			for name, vec := range p.GetVectors() {
				l, ok := loaders[name]
				if !ok || uint64(len(vec.GetData())) != r.vs().spaces[name].params.GetSize() {
					return fmt.Errorf("point %x: stored vector %q does not fit the config", k, name)
				}
				l.Add(string(k), vec.GetData())
			}
			if len(fields) > 0 {
				payload, err := filter.DecodePayload(p.GetPayload())
				if err != nil {
					return fmt.Errorf("point %x: %w", k, err)
				}
				for _, f := range fields {
					f.Set(string(k), payload)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, f := range fields {
			r.payload.Install(f)
		}
		r.linkFieldsChanged(r.vs())
		return nil
	})
}

// Path is the replica's file.
func (r *Replica) Path() string { return r.path }

// Config is the collection config the replica was opened with.
// It changes when the log creates or deletes a vector name.
func (r *Replica) Config() *shoalv1.CollectionConfig { return r.vs().cfg }

// SetTerm sets the term given to operations logged from now on. Terms
// never decrease; a lower term is ignored.
func (r *Replica) SetTerm(term uint64) {
	for {
		cur := r.term.Load()
		if term <= cur || r.term.CompareAndSwap(cur, term) {
			return
		}
	}
}

// LastApplied returns the (term, seq) of the newest applied operation,
// (0, 0) for a replica that never took a write.
func (r *Replica) LastApplied() (term, seq uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.lastTerm, r.lastSeq
}

// Stats returns the committer's counters.
func (r *Replica) Stats() Stats {
	return Stats{Commits: r.commits.Load(), Ops: r.ops.Load(), Pending: r.pending.Load()}
}

// Close stops taking writes, commits the operations already queued, and
// closes the file. Every operation that was answered without error is
// durable. Close is idempotent.
func (r *Replica) Close() error {
	r.closeOnce.Do(func() {
		close(r.closing)
		<-r.stopped
		r.signalAppended()
		r.life.Lock()
		r.closed = true
		r.life.Unlock()
		// The optimizers write to the file: stop them (aborting builds
		// and blob writes) before it closes.
		r.closeSegments()
		if err := r.db.Close(); err != nil {
			r.closeErr = fmt.Errorf("close replica %s: %w", r.path, err)
		}
	})
	return r.closeErr
}

// Drop closes the replica and deletes its file.
func (r *Replica) Drop() error {
	if err := r.Close(); err != nil {
		r.log.Warn().Err(err).Str("path", r.path).Msg("close replica before drop")
	}
	if err := os.Remove(r.path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("drop replica %s: %w", r.path, err)
	}
	return nil
}

// reading enters a read; the returned func leaves it. It fails with
// ErrClosed once the replica is closing.
func (r *Replica) reading() (func(), error) {
	r.life.RLock()
	if r.closed {
		r.life.RUnlock()
		return nil, ErrClosed
	}
	select {
	case <-r.closing:
		r.life.RUnlock()
		return nil, ErrClosed
	default:
	}
	return r.life.RUnlock, nil
}
