// Package fake holds in-memory stand-ins for the router's collaborators —
// the cluster state, storage nodes, meta nodes and the consensus status —
// so that routing, service and REST tests run without a cluster. It is
// test support only; nothing in the router's production path imports it.
package fake

import (
	"errors"
	"sort"
	"sync"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// State is an in-memory cluster state (service.State, routing.Topology).
type State struct {
	mu          sync.Mutex
	collections map[string]*shoalv1.Collection
	maps        map[string]*shoalv1.ShardMap
	nodes       map[uint64]*shoalv1.Node
	transfers   []*shoalv1.ShardTransfer
	progress    map[string]*shoalv1.TransferProgress
	changed     chan struct{}
}

// AddTransfer records a shard transfer, as meta does under its key.
func (s *State) AddTransfer(t *shoalv1.ShardTransfer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transfers = append(s.transfers, t)
	s.notifyLocked()
}

// RemoveTransfer deletes the transfer of collection's shard from one node
// to another; false when there is none.
func (s *State) RemoveTransfer(collection string, shard uint32, from, to uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range s.transfers {
		if t.GetCollection() == collection && t.GetShardId() == shard && t.GetFromNode() == from && t.GetToNode() == to {
			s.transfers = append(s.transfers[:i], s.transfers[i+1:]...)
			s.notifyLocked()
			return true
		}
	}
	return false
}

// SetTransferProgress publishes (nil: removes) the progress report of the
// copy of collection's shard to node to.
func (s *State) SetTransferProgress(collection string, shard uint32, to uint64, p *shoalv1.TransferProgress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := cluster.TransferProgressKey(collection, shard, to)
	if s.progress == nil {
		s.progress = map[string]*shoalv1.TransferProgress{}
	}
	if p == nil {
		delete(s.progress, key)
	} else {
		s.progress[key] = p
	}
	s.notifyLocked()
}

// TransferProgress returns what SetTransferProgress published.
func (s *State) TransferProgress(collection string, shard uint32, to uint64) (*shoalv1.TransferProgress, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.progress[cluster.TransferProgressKey(collection, shard, to)]
	return p, ok
}

// Transfers returns collection's transfers in the order they were added.
func (s *State) Transfers(collection string) []*shoalv1.ShardTransfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*shoalv1.ShardTransfer
	for _, t := range s.transfers {
		if t.GetCollection() == collection {
			out = append(out, t)
		}
	}
	return out
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		collections: map[string]*shoalv1.Collection{},
		maps:        map[string]*shoalv1.ShardMap{},
		nodes:       map[uint64]*shoalv1.Node{},
		changed:     make(chan struct{}),
	}
}

func (s *State) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// PutNode registers a node.
func (s *State) PutNode(n *shoalv1.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes[n.Id] = n
	s.notifyLocked()
}

// DeleteNode removes a node's registration.
func (s *State) DeleteNode(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes, id)
	s.notifyLocked()
}

// PutCollection stores a collection and its shard map.
func (s *State) PutCollection(c *shoalv1.Collection, m *shoalv1.ShardMap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.collections[c.Name] = c
	s.maps[c.Name] = m
	s.notifyLocked()
}

// DeleteCollection removes a collection.
func (s *State) DeleteCollection(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.collections[name]
	delete(s.collections, name)
	delete(s.maps, name)
	s.notifyLocked()
	return ok
}

// SetReplicaState changes one replica's state (a new map epoch).
func (s *State) SetReplicaState(collection string, shard uint32, node uint64, st shoalv1.ReplicaState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := proto.Clone(s.maps[collection]).(*shoalv1.ShardMap)
	m.Epoch++
	for _, sh := range m.Shards {
		if sh.Id != shard {
			continue
		}
		for _, r := range sh.Replicas {
			if r.NodeId == node {
				r.State = st
			}
		}
	}
	s.maps[collection] = m
	s.notifyLocked()
}

// SetPrimary makes node the primary of a shard at term (a new map epoch),
// as the meta controller's failover does.
func (s *State) SetPrimary(collection string, shard uint32, node, term uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := proto.Clone(s.maps[collection]).(*shoalv1.ShardMap)
	m.Epoch++
	for _, sh := range m.Shards {
		if sh.Id == shard {
			sh.Primary, sh.Term = node, term
		}
	}
	s.maps[collection] = m
	s.notifyLocked()
}

// Collection implements routing.Topology.
func (s *State) Collection(name string) (*shoalv1.Collection, *shoalv1.ShardMap, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.collections[name]
	if !ok {
		return nil, nil, false
	}
	return c, s.maps[name], true
}

// Node implements routing.Topology.
func (s *State) Node(id uint64) (*shoalv1.Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[id]
	return n, ok
}

// Collections implements service.State.
func (s *State) Collections() []*shoalv1.Collection {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*shoalv1.Collection, 0, len(s.collections))
	for _, c := range s.collections {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Nodes implements service.State.
func (s *State) Nodes(tier shoalv1.NodeTier) []*shoalv1.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*shoalv1.Node
	for _, n := range s.nodes {
		if tier == shoalv1.NodeTier_NODE_TIER_UNSPECIFIED || n.Tier == tier {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// Changed implements service.State.
func (s *State) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// ErrDown is the cause of the Unavailable errors a stopped fake returns.
var ErrDown = errors.New("fake: node is down")
