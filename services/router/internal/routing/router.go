// Package routing turns a collection-level operation into per-shard calls
// on storage replicas and merges the answers. It knows the shard maps (from
// the watched cluster state) and the replica states, and nothing about the
// public API's wire formats.
//
// Writes go through a ShardWriter, by default the PrimaryWriter, which
// sends each shard's write to the shard's primary and follows failovers
// (writer.go); reads pick one ACTIVE replica per shard round-robin and
// retry another on failure, or ask several and resolve their answers when
// the request asks for a higher read consistency (reader.go,
// consistency.go); searches fan out to every shard and k-way merge
// (merge.go).
package routing

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/hashring"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// Topology is the part of the cluster state routing reads;
// *cluster.State implements it.
type Topology interface {
	MapWatcher
	Node(id uint64) (*shoalv1.Node, bool)
}

// Dialer returns the StorageService client of a node address;
// *clients.Pool implements it.
type Dialer interface {
	Storage(uri string) shoalv1connect.StorageServiceClient
}

// Router routes operations to shard replicas. It is safe for concurrent use.
type Router struct {
	topo   Topology
	dial   Dialer
	writer ShardWriter
	next   atomic.Uint64 // round-robin cursor for replica choice
}

// New returns a router. A nil writer selects the PrimaryWriter over topo,
// which sends every write to its shard's primary.
func New(topo Topology, dial Dialer, writer ShardWriter) *Router {
	r := &Router{topo: topo, dial: dial, writer: writer}
	if r.writer == nil {
		r.writer = &PrimaryWriter{Replicas: r, Maps: topo}
	}
	return r
}

// SetLog sets the logger of the default writer (its retries are logged at
// debug level). It must be called before the router is used.
func (r *Router) SetLog(log zerolog.Logger) {
	if w, ok := r.writer.(*PrimaryWriter); ok {
		w.Log = log
	}
}

// Collection is a consistent snapshot of one collection's catalog entry and
// shard map, taken once per request so that every shard of the request is
// routed with the same map.
type Collection struct {
	Meta *shoalv1.Collection
	Map  *shoalv1.ShardMap
	ring *hashring.Ring
	// selected: the shard keys a request selected (custom sharding).
	selected []*keyShards
	// fetched: read from etcd, not (yet) in the local state.
	fetched bool
}

// Fetcher reads a collection straight from etcd; *cluster.State
// implements it.
type Fetcher interface {
	Fetch(ctx context.Context, name string) (*shoalv1.Collection, *shoalv1.ShardMap, bool, error)
}

// fetchTimeout bounds the direct read of a collection the local state
// does not have.
const fetchTimeout = 2 * time.Second

// Resolve snapshots collection name. A name the local state does not
// know is read from etcd directly when the topology can (Fetcher): a
// collection just created through another router is found even before
// this router's watch delivers it. An unknown name (or one whose shard map
// is not written yet) is a NotFound error with Qdrant's message.
func (r *Router) Resolve(name string) (*Collection, error) {
	meta, m, ok := r.topo.Collection(name)
	if !ok {
		f, can := r.topo.(Fetcher)
		if !can {
			return nil, apierr.CollectionNotFound(name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		var err error
		if meta, m, ok, err = f.Fetch(ctx, name); err != nil || !ok {
			return nil, apierr.CollectionNotFound(name)
		}
		c := NewCollection(meta, m)
		c.fetched = true
		return c, nil
	}
	return NewCollection(meta, m), nil
}

// NewCollection builds a snapshot from a catalog entry and its shard map.
// Points are placed with hashring.ForCount(shard_number); a config without
// shard_number falls back to the number of shards in the map. A collection
// with custom sharding places points per shard key (see Select).
func NewCollection(meta *shoalv1.Collection, m *shoalv1.ShardMap) *Collection {
	n := meta.GetConfig().GetShardNumber()
	if n == 0 {
		n = uint32(len(m.GetShards()))
	}
	c := &Collection{Meta: meta, Map: m}
	if n > 0 && !c.Custom() {
		c.ring = hashring.ForCount(n)
	}
	return c
}

// Name is the collection's name.
func (c *Collection) Name() string { return c.Meta.GetName() }

// Shard returns the shard map entry of shard id.
func (c *Collection) Shard(id uint32) (*shoalv1.Shard, error) {
	for _, s := range c.Map.GetShards() {
		if s.GetId() == id {
			return s, nil
		}
	}
	return nil, apierr.NoService("shard %d of collection `%s` is not in its shard map", id, c.Name())
}

// Ref names one shard of the collection for a storage request.
func (c *Collection) Ref(shard uint32) *shoalv1.ShardRef {
	return &shoalv1.ShardRef{Collection: c.Meta.GetName(), Uid: c.Meta.GetUid(), ShardId: shard}
}

// Distance returns the distance of vector name ("" for the unnamed one).
func (c *Collection) Distance(using string) shoalv1.Distance {
	return c.Meta.GetConfig().GetVectors()[using].GetDistance()
}

// HigherIsBetter reports the score order of a distance: true for Cosine
// and Dot (similarities), false for Euclid and Manhattan (distances).
func HigherIsBetter(d shoalv1.Distance) bool {
	return d != shoalv1.Distance_DISTANCE_EUCLID && d != shoalv1.Distance_DISTANCE_MANHATTAN
}

// ReplicaClient returns the client of the node holding a replica. A node
// that is not registered (its lease expired) is Unavailable.
func (r *Router) ReplicaClient(nodeID uint64) (shoalv1connect.StorageServiceClient, error) {
	n, ok := r.topo.Node(nodeID)
	if !ok || n.GetUri() == "" {
		return nil, apierr.NoService("storage node %d is not registered", nodeID)
	}
	return r.dial.Storage(n.GetUri()), nil
}

// groupByShard splits ids (in order) into per-shard index lists, an item
// going to every shard ShardsOf names; the map keys are returned sorted so
// that work is issued deterministically.
func groupByShard[T any](c *Collection, items []T, id func(T) *shoalv1.PointID) (map[uint32][]T, []uint32) {
	groups := map[uint32][]T{}
	var order []uint32
	for _, it := range items {
		for _, s := range c.ShardsOf(id(it)) {
			if _, ok := groups[s]; !ok {
				order = append(order, s)
			}
			groups[s] = append(groups[s], it)
		}
	}
	slices.Sort(order)
	return groups, order
}

// parallel runs fn(0..n-1) concurrently and returns their errors by index.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	if n == 1 {
		// One shard: no goroutine to start, nor a fresh stack to grow
		// through the RPC client's deep call chain.
		errs[0] = fn(0)
		return errs
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}

// firstErr returns the first non-nil error.
func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func shardWhat(c *Collection, shard uint32, op string) string {
	return fmt.Sprintf("%s on shard %d of `%s`", op, shard, c.Name())
}
