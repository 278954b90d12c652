// Package node keeps a storage node's shard replicas in line with the
// cluster's shard maps: it opens the replicas the maps place on this node,
// drops the ones they no longer place here (or whose collection was
// recreated under a new uid), and reports what it holds through status
// keys under the node's lease.
package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// ErrNotFound is returned (wrapped) for a replica this node does not hold.
var ErrNotFound = errors.New("shard replica not found on this node")

// StatusWriter writes keys under the node's lease; *cluster.Registration
// implements it.
type StatusWriter interface {
	Put(ctx context.Context, key string, val []byte) error
	Delete(ctx context.Context, key string) error
}

// Config configures a Manager.
type Config struct {
	NodeID uint64
	// StoragePath is the node's data directory; replicas live under
	// <StoragePath>/collections.
	StoragePath string
	State       *cluster.State
	Status      StatusWriter
	Log         zerolog.Logger
	Replica     replica.Options
	// LookupWait is how long a request for a replica this node does not
	// hold (yet) waits for the state to catch up; default 2 s.
	LookupWait time.Duration
	// StatusInterval is how often changed replica statuses are written;
	// default 1 s.
	StatusInterval time.Duration
}

// held is one open replica.
type held struct {
	uid string
	r   *replica.Replica
	// Owned by the loop goroutine: what the status key last said.
	reported *shoalv1.ReplicaStatus
}

// Manager owns this node's replicas. Create it with New, then Start.
type Manager struct {
	cfg  Config
	root string
	log  zerolog.Logger

	mu         sync.RWMutex
	replicas   map[shardKey]*held
	reconciled chan struct{} // closed and replaced after every reconcile
	closed     bool

	retry bool // loop goroutine only: the last reconcile left work undone
	// reopen asks the loop to reconcile again (a reset failed to reopen).
	reopen atomic.Bool

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a manager; it does nothing until Start.
func New(cfg Config) *Manager {
	if cfg.LookupWait <= 0 {
		cfg.LookupWait = 2 * time.Second
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = time.Second
	}
	return &Manager{
		cfg:        cfg,
		root:       filepath.Join(cfg.StoragePath, collectionsDir),
		log:        cfg.Log.With().Str("component", "replicas").Logger(),
		replicas:   map[shardKey]*held{},
		reconciled: make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// Start opens the replicas the current shard maps place on this node,
// deletes replica files no shard map references any more, and then keeps
// following the state until Close.
func (m *Manager) Start(ctx context.Context) error {
	changed := m.cfg.State.Changed()
	want := m.desired()
	m.reconcile(ctx, want)
	if err := m.sweep(want); err != nil {
		return err
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.loop(loopCtx, changed)
	return nil
}

// Close stops following the state and closes every replica (keeping its
// files). Status keys are left to the node's lease. Idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for k, h := range m.replicas {
		if err := h.r.Close(); err != nil {
			errs = append(errs, err)
		}
		delete(m.replicas, k)
	}
	m.notifyLocked()
	return errors.Join(errs...)
}

// Replica returns the open replica ref names. A replica this node does not
// hold yet is waited for up to LookupWait (the shard map placing it may
// not have arrived); then the error wraps ErrNotFound. A uid other than
// the held one's is not found either.
func (m *Manager) Replica(ctx context.Context, ref *shoalv1.ShardRef) (*replica.Replica, error) {
	key := shardKey{ref.GetCollection(), ref.GetShardId()}
	timer := time.NewTimer(m.cfg.LookupWait)
	defer timer.Stop()
	for {
		m.mu.RLock()
		h, ok := m.replicas[key]
		closed, ch := m.closed, m.reconciled
		m.mu.RUnlock()
		if closed {
			return nil, replica.ErrClosed
		}
		if ok && h.uid == ref.GetUid() {
			return h.r, nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil, fmt.Errorf("%w: collection %q (uid %q) shard %d on node %d", ErrNotFound, ref.GetCollection(), ref.GetUid(), ref.GetShardId(), m.cfg.NodeID)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Held describes one open replica.
type Held struct {
	Collection, UID string
	Shard           uint32
	Path            string
}

// Held lists the open replicas.
func (m *Manager) Held() []Held {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Held, 0, len(m.replicas))
	for k, h := range m.replicas {
		out = append(out, Held{Collection: k.collection, UID: h.uid, Shard: k.shard, Path: h.r.Path()})
	}
	return out
}

func (m *Manager) loop(ctx context.Context, changed <-chan struct{}) {
	defer close(m.done)
	ticker := time.NewTicker(m.cfg.StatusInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			changed = m.cfg.State.Changed()
			m.reconcile(ctx, m.desired())
		case <-ticker.C:
			if m.retry || m.reopen.Swap(false) {
				m.reconcile(ctx, m.desired())
			}
			m.refreshStatus(ctx)
		}
	}
}

func (m *Manager) notifyLocked() {
	close(m.reconciled)
	m.reconciled = make(chan struct{})
}
