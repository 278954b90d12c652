// Package replication is a storage node's side of the write path: as a
// shard's primary it sequences every write, ships the log to the other
// replicas in order and answers once write_consistency_factor replicas
// hold it; as a follower it applies the primary's log (Replicate) or a
// full copy (Install).
//
// The primary of a shard, and its term, are those of the shard map
// (cluster state in etcd). The primary itself marks a follower Dead when
// it keeps failing, and a Partial follower Active once it has caught up;
// both are compare-and-swap updates of the shard map, fenced on the map
// still naming this node primary at the same term. Electing a new primary
// is the meta controller's job.
package replication

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// Maps is this node's view of the cluster state; *cluster.State
// implements it. Returned messages must not be modified.
type Maps interface {
	Collections() []*shoalv1.Collection
	Collection(name string) (*shoalv1.Collection, *shoalv1.ShardMap, bool)
	Node(id uint64) (*shoalv1.Node, bool)
	Changed() <-chan struct{}
}

// Replicas finds, resets and restores this node's replicas;
// *node.Manager implements it.
type Replicas interface {
	Replica(ctx context.Context, ref *shoalv1.ShardRef) (*replica.Replica, error)
	Reset(ctx context.Context, ref *shoalv1.ShardRef) (*replica.Replica, error)
	Restore(ctx context.Context, ref *shoalv1.ShardRef, path string) (*replica.Replica, replica.SnapshotInfo, error)
}

// MapUpdater changes a shard map with a compare-and-swap;
// cluster.UpdateShardMap bound to an etcd client implements it.
type MapUpdater func(ctx context.Context, collection, uid string, edit func(m *shoalv1.ShardMap) (bool, error)) (*shoalv1.ShardMap, error)

// Config configures a Coordinator.
type Config struct {
	NodeID   uint64
	Maps     Maps
	Replicas Replicas
	Update   MapUpdater
	Log      zerolog.Logger
	// HTTPClient reaches the other storage nodes (h2c); nil builds one.
	HTTPClient *http.Client
	// UpdateRateLimit caps concurrent writes this node coordinates as a
	// primary; 0 is unlimited.
	UpdateRateLimit int
	// DeadAfter is how long a follower may keep failing before the
	// primary marks it Dead; default 2 s.
	DeadAfter time.Duration
	// LeaseAlive reports whether this node's lease is certainly valid
	// (cluster.Registration.Alive); while it is not, the node coordinates
	// no write, since the controller may have failed its shards over. nil
	// is always alive.
	LeaseAlive func() bool
	// AckTimeout bounds the wait for write_consistency_factor replicas;
	// default 10 s (or the request's deadline, if sooner).
	AckTimeout time.Duration
	// Streamer sends full copies (snapshot, stream_records) to followers
	// over the transfer wire; nil sends records over the internal RPC
	// API instead (Install calls).
	Streamer Streamer
	// Progress receives transfer progress reports; nil publishes none.
	Progress ProgressSink
	// Transfers lists a collection's transfer records (the method a
	// move or replication asks for); nil: none.
	Transfers func(collection string) []*shoalv1.ShardTransfer
	// DefaultMethod is storage.shard_transfer_method: "" (automatic),
	// stream_records, snapshot or wal_delta.
	DefaultMethod string
	// SnapshotPoints is the replica size (points) from which an automatic
	// full copy is a snapshot; default 10 000.
	SnapshotPoints int
}

// Coordinator runs the primary side of every shard this node leads and
// answers the follower side. Create it with New, then Start; Close stops
// every shipper.
type Coordinator struct {
	cfg   Config
	log   zerolog.Logger
	peers *peers
	slots chan struct{} // update rate limit; nil when unlimited

	mu         sync.Mutex
	groups     map[groupKey]*group
	reconciled chan struct{} // closed and replaced after every reconcile
	closed     bool

	installs installs // follower side: sessions in progress

	histMu  sync.Mutex
	history []CopyReport // see Copies

	cancel context.CancelFunc
	done   chan struct{}
}

// groupKey names one shard of one creation of a collection.
type groupKey struct {
	collection, uid string
	shard           uint32
}

func (k groupKey) ref() *shoalv1.ShardRef {
	return &shoalv1.ShardRef{Collection: k.collection, Uid: k.uid, ShardId: k.shard}
}

func (k groupKey) String() string { return fmt.Sprintf("%s/%s/%d", k.collection, k.uid, k.shard) }

// New returns a coordinator; it leads nothing until Start.
func New(cfg Config) *Coordinator {
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 2 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 10 * time.Second
	}
	c := &Coordinator{
		cfg:        cfg,
		log:        cfg.Log.With().Str("component", "replication").Logger(),
		peers:      newPeers(cfg.Maps, cfg.HTTPClient),
		groups:     map[groupKey]*group{},
		reconciled: make(chan struct{}),
		installs:   installs{sessions: map[groupKey]string{}},
		done:       make(chan struct{}),
	}
	if cfg.UpdateRateLimit > 0 {
		c.slots = make(chan struct{}, cfg.UpdateRateLimit)
	}
	return c
}

// Start takes up the primary role of every shard the maps give this node
// and keeps following the maps until Close.
func (c *Coordinator) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	changed := c.cfg.Maps.Changed()
	c.reconcile(ctx)
	go c.loop(ctx, changed)
}

// Close stops every shipper and waits for them. Writes in flight fail.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	groups := c.groups
	c.groups = map[groupKey]*group{}
	c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	for _, g := range groups {
		g.stop()
	}
}

func (c *Coordinator) loop(ctx context.Context, changed <-chan struct{}) {
	defer close(c.done)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			changed = c.cfg.Maps.Changed()
		case <-tick.C:
		}
		c.reconcile(ctx)
	}
}

// reconcile starts a group for every shard this node leads (replacing one
// of an older term or a replaced replica), stops the groups of shards it
// no longer leads, and updates every group's followers.
func (c *Coordinator) reconcile(ctx context.Context) {
	want := map[groupKey]*shoalv1.Shard{}
	cfgs := map[groupKey]*shoalv1.CollectionConfig{}
	for _, coll := range c.cfg.Maps.Collections() {
		_, m, ok := c.cfg.Maps.Collection(coll.GetName())
		if !ok || m.GetUid() != coll.GetUid() {
			continue
		}
		for _, sh := range m.GetShards() {
			if sh.GetPrimary() == c.cfg.NodeID {
				k := groupKey{coll.GetName(), coll.GetUid(), sh.GetId()}
				want[k], cfgs[k] = sh, coll.GetConfig()
			}
		}
	}
	c.mu.Lock()
	var stale []*group
	for k, g := range c.groups {
		sh, ok := want[k]
		if !ok || sh.GetTerm() != g.term || g.r.Closed() {
			stale = append(stale, g)
			delete(c.groups, k)
		}
	}
	c.mu.Unlock()
	for _, g := range stale {
		g.stop()
	}
	for k, sh := range want {
		c.mu.Lock()
		g, ok := c.groups[k]
		c.mu.Unlock()
		if !ok {
			lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			r, err := c.cfg.Replicas.Replica(lctx, k.ref())
			cancel()
			if err != nil {
				continue // not opened yet: the next reconcile retries
			}
			r.SetTerm(sh.GetTerm())
			g = newGroup(c, k, sh.GetTerm(), r)
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				g.stop()
				return
			}
			c.groups[k] = g
			c.mu.Unlock()
			c.log.Info().Stringer("shard", k).Uint64("term", sh.GetTerm()).Msg("leading shard as primary")
		}
		g.setShard(sh, cfgs[k])
	}
	c.mu.Lock()
	close(c.reconciled)
	c.reconciled = make(chan struct{})
	c.mu.Unlock()
}
