package fake

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"google.golang.org/protobuf/proto"
)

// Cluster is a whole fake cluster: a state, storage nodes 1..n with URIs
// "fake://storage-<id>", and one meta node whose API places replicas
// round-robin and marks them ACTIVE. It is a routing.Dialer and a
// service.MetaDialer.
type Cluster struct {
	State   *State
	Storage []*Storage
	Aliases *Aliases
	// Ops records the cluster operations meta was asked for.
	Ops ClusterOps

	mu     sync.Mutex
	uid    int
	quotas []byte // the stored quota configuration
}

// NewCluster returns a cluster with n storage nodes (ids 1..n) and one
// meta node (id 100).
func NewCluster(n int) *Cluster {
	c := &Cluster{State: NewState(), Aliases: &Aliases{}}
	for i := 1; i <= n; i++ {
		st := NewStorage(uint64(i), c.State)
		st.peer = c.node
		c.Storage = append(c.Storage, st)
		c.State.PutNode(&shoalv1.Node{Id: uint64(i), Uri: "fake://storage-" + strconv.Itoa(i), Tier: shoalv1.NodeTier_NODE_TIER_STORAGE})
	}
	c.State.PutNode(&shoalv1.Node{Id: 100, Uri: "fake://meta-peer", ApiUri: "fake://meta", Tier: shoalv1.NodeTier_NODE_TIER_META})
	return c
}

// node returns storage node id, or nil.
func (c *Cluster) node(id uint64) *Storage {
	for _, s := range c.Storage {
		if s.NodeID == id {
			return s
		}
	}
	return nil
}

// StorageClient returns the node serving uri; an unknown uri gets a node
// that is down.
func (c *Cluster) StorageClient(uri string) shoalv1connect.StorageServiceClient {
	for _, s := range c.Storage {
		if "fake://storage-"+strconv.FormatUint(s.NodeID, 10) == uri {
			return s
		}
	}
	gone := NewStorage(0, c.State)
	gone.SetDown(true)
	return gone
}

// Dialer adapts the cluster to routing.Dialer.
func (c *Cluster) Dialer() StorageDialer { return StorageDialer{c} }

// StorageDialer is a routing.Dialer over a Cluster.
type StorageDialer struct{ c *Cluster }

// Storage implements routing.Dialer.
func (d StorageDialer) Storage(uri string) shoalv1connect.StorageServiceClient {
	return d.c.StorageClient(uri)
}

// Meta implements service.MetaDialer.
func (c *Cluster) Meta(string) shoalv1connect.MetaServiceClient { return metaAPI{c} }

type metaAPI struct{ c *Cluster }

// CreateCollection places shard_number shards (default: one per storage
// node) with replication_factor replicas each (default 1), round-robin over
// the storage nodes. An identical existing collection is not an error; a
// different one is AlreadyExists.
func (m metaAPI) CreateCollection(_ context.Context, req *connect.Request[shoalv1.CreateCollectionRequest]) (*connect.Response[shoalv1.CreateCollectionResponse], error) {
	c := m.c
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := proto.Clone(req.Msg.Config).(*shoalv1.CollectionConfig)
	// Meta's defaults: one shard per storage node, one replica.
	cfg.ReplicationFactor = max(cfg.ReplicationFactor, 1)
	cfg.WriteConsistencyFactor = max(cfg.WriteConsistencyFactor, 1)
	if old, sm, ok := c.State.Collection(req.Msg.Name); ok {
		if cfg.ShardNumber == 0 {
			cfg.ShardNumber = old.Config.ShardNumber
		}
		if proto.Equal(old.Config, cfg) {
			return connect.NewResponse(&shoalv1.CreateCollectionResponse{Collection: old, ShardMap: sm}), nil
		}
		return nil, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("Collection `%s` already exists!", req.Msg.Name))
	}
	if cfg.ShardNumber == 0 && customShards(cfg) {
		cfg.ShardNumber = 1
	} else if cfg.ShardNumber == 0 {
		cfg.ShardNumber = uint32(len(c.Storage))
	}
	c.uid++
	col := &shoalv1.Collection{Name: req.Msg.Name, Uid: "uid-" + strconv.Itoa(c.uid), Config: cfg}
	sm := &shoalv1.ShardMap{Collection: col.Name, Uid: col.Uid, Epoch: 1}
	next := 0
	for s := uint32(0); s < cfg.ShardNumber && !customShards(cfg); s++ {
		sh := &shoalv1.Shard{Id: s, Term: 1}
		for r := uint32(0); r < cfg.ReplicationFactor && int(r) < len(c.Storage); r++ {
			node := c.Storage[next%len(c.Storage)].NodeID
			next++
			sh.Replicas = append(sh.Replicas, &shoalv1.Replica{NodeId: node, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE})
		}
		sh.Primary = sh.Replicas[0].NodeId
		sm.Shards = append(sm.Shards, sh)
	}
	c.State.PutCollection(col, sm)
	return connect.NewResponse(&shoalv1.CreateCollectionResponse{Created: true, Collection: col, ShardMap: sm}), nil
}

// DeleteCollection removes the collection.
func (m metaAPI) DeleteCollection(_ context.Context, req *connect.Request[shoalv1.DeleteCollectionRequest]) (*connect.Response[shoalv1.DeleteCollectionResponse], error) {
	deleted := m.c.State.DeleteCollection(req.Msg.Name)
	m.c.Aliases.mu.Lock()
	for a, c := range m.c.Aliases.m {
		if c == req.Msg.Name {
			delete(m.c.Aliases.m, a)
		}
	}
	m.c.Aliases.mu.Unlock()
	return connect.NewResponse(&shoalv1.DeleteCollectionResponse{Deleted: deleted}), nil
}
