package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// State is a local copy of the catalog, shard maps and registered nodes,
// kept current by an etcd watch. Reads never block on the network. It is
// safe for concurrent use; returned messages must not be modified.
type State struct {
	cli *clientv3.Client
	log zerolog.Logger

	mu          sync.RWMutex
	collections map[string]*shoalv1.Collection
	shardMaps   map[string]*shoalv1.ShardMap
	nodes       map[uint64]*shoalv1.Node
	transfers   map[string]*shoalv1.ShardTransfer    // by key
	progress    map[string]*shoalv1.TransferProgress // by key
	rev         int64
	changed     chan struct{} // closed and replaced on every change

	cancel context.CancelFunc
	done   chan struct{}
}

// WatchState loads the current state and keeps it current until Close.
func WatchState(ctx context.Context, cli *clientv3.Client, log zerolog.Logger) (*State, error) {
	s := &State{cli: cli, log: log, changed: make(chan struct{}), done: make(chan struct{})}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	watchCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.watch(watchCtx)
	return s, nil
}

// Close stops the watch.
func (s *State) Close() {
	s.cancel()
	<-s.done
}

// Collection returns a collection and its shard map.
func (s *State) Collection(name string) (*shoalv1.Collection, *shoalv1.ShardMap, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.collections[name]
	if !ok {
		return nil, nil, false
	}
	m, ok := s.shardMaps[name]
	return c, m, ok
}

// Collections returns every collection that has a shard map, by name.
func (s *State) Collections() []*shoalv1.Collection {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*shoalv1.Collection, 0, len(s.collections))
	for name, c := range s.collections {
		if _, ok := s.shardMaps[name]; ok {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Node returns a registered node.
func (s *State) Node(id uint64) (*shoalv1.Node, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nodes[id]
	return n, ok
}

// Nodes returns the registered nodes of a tier (all tiers for
// NODE_TIER_UNSPECIFIED), by id.
func (s *State) Nodes(tier shoalv1.NodeTier) []*shoalv1.Node {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*shoalv1.Node, 0, len(s.nodes))
	for _, n := range s.nodes {
		if tier == shoalv1.NodeTier_NODE_TIER_UNSPECIFIED || n.Tier == tier {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// Revision is the etcd revision the copy reflects.
func (s *State) Revision() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rev
}

// Changed returns a channel closed at the next change.
func (s *State) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// WaitRevision blocks until the copy reflects at least revision rev, so a
// caller that wrote to etcd can read its own write.
func (s *State) WaitRevision(ctx context.Context, rev int64) error {
	for {
		ch := s.Changed()
		if s.Revision() >= rev {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for cluster state revision %d: %w", rev, ctx.Err())
		case <-ch:
		}
	}
}

func (s *State) reload(ctx context.Context) error {
	resp, err := s.cli.Get(ctx, Prefix, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("load cluster state: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.collections = map[string]*shoalv1.Collection{}
	s.shardMaps = map[string]*shoalv1.ShardMap{}
	s.nodes = map[uint64]*shoalv1.Node{}
	s.transfers = map[string]*shoalv1.ShardTransfer{}
	s.progress = map[string]*shoalv1.TransferProgress{}
	for _, kv := range resp.Kvs {
		s.applyLocked(mvccpb.PUT, kv)
	}
	s.rev = resp.Header.Revision
	s.notifyLocked()
	return nil
}

func (s *State) watch(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), Prefix, clientv3.WithPrefix(), clientv3.WithRev(s.Revision()+1), clientv3.WithProgressNotify())
		for resp := range wch {
			if resp.CompactRevision != 0 || resp.Err() == rpctypes.ErrCompacted {
				s.log.Info().Int64("compact_revision", resp.CompactRevision).Msg("watch compacted; reloading cluster state")
				break
			}
			if err := resp.Err(); err != nil {
				s.log.Warn().Err(err).Msg("cluster state watch")
				break
			}
			s.mu.Lock()
			for _, ev := range resp.Events {
				s.applyLocked(ev.Type, ev.Kv)
			}
			if resp.Header.Revision > s.rev {
				s.rev = resp.Header.Revision
			}
			s.notifyLocked()
			s.mu.Unlock()
		}
		if ctx.Err() != nil {
			return
		}
		// Reload from scratch: after compaction or a broken stream the
		// copy may have missed events.
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := s.reload(rctx)
			cancel()
			if err == nil {
				break
			}
			s.log.Warn().Err(err).Msg("reload cluster state")
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

func (s *State) applyLocked(typ mvccpb.Event_EventType, kv *mvccpb.KeyValue) {
	key := string(kv.Key)
	switch {
	case strings.HasPrefix(key, CollectionsPrefix):
		name := strings.TrimPrefix(key, CollectionsPrefix)
		if typ == mvccpb.DELETE {
			delete(s.collections, name)
			return
		}
		c := &shoalv1.Collection{}
		if err := proto.Unmarshal(kv.Value, c); err != nil {
			s.log.Error().Err(err).Str("key", key).Msg("decode collection")
			return
		}
		s.collections[name] = c
	case strings.HasPrefix(key, ShardMapsPrefix):
		name := strings.TrimPrefix(key, ShardMapsPrefix)
		if typ == mvccpb.DELETE {
			delete(s.shardMaps, name)
			return
		}
		m := &shoalv1.ShardMap{}
		if err := proto.Unmarshal(kv.Value, m); err != nil {
			s.log.Error().Err(err).Str("key", key).Msg("decode shard map")
			return
		}
		s.shardMaps[name] = m
	case strings.HasPrefix(key, NodesPrefix):
		id, err := NodeIDFromKey(key)
		if err != nil {
			return
		}
		if typ == mvccpb.DELETE {
			delete(s.nodes, id)
			return
		}
		n := &shoalv1.Node{}
		if err := proto.Unmarshal(kv.Value, n); err != nil {
			s.log.Error().Err(err).Str("key", key).Msg("decode node")
			return
		}
		s.nodes[id] = n
	case strings.HasPrefix(key, TransfersPrefix):
		if typ == mvccpb.DELETE {
			delete(s.transfers, key)
			return
		}
		t := &shoalv1.ShardTransfer{}
		if err := proto.Unmarshal(kv.Value, t); err != nil {
			s.log.Error().Err(err).Str("key", key).Msg("decode shard transfer")
			return
		}
		s.transfers[key] = t
	case strings.HasPrefix(key, TransferProgressPrefix):
		if typ == mvccpb.DELETE {
			delete(s.progress, key)
			return
		}
		p := &shoalv1.TransferProgress{}
		if err := proto.Unmarshal(kv.Value, p); err != nil {
			s.log.Error().Err(err).Str("key", key).Msg("decode transfer progress")
			return
		}
		s.progress[key] = p
	}
}

// TransferProgress returns the progress report of the copy of
// collection's shard to node to, if its primary is running one.
func (s *State) TransferProgress(collection string, shard uint32, to uint64) (*shoalv1.TransferProgress, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.progress[TransferProgressKey(collection, shard, to)]
	return p, ok
}

// Transfers returns the transfer records of a collection (every creation
// of that name: callers compare the uid), ordered by shard, source and
// target.
func (s *State) Transfers(collection string) []*shoalv1.ShardTransfer {
	s.mu.RLock()
	var out []*shoalv1.ShardTransfer
	for _, t := range s.transfers {
		if t.GetCollection() == collection {
			out = append(out, t)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.GetShardId() != b.GetShardId() {
			return a.GetShardId() < b.GetShardId()
		}
		if a.GetFromNode() != b.GetFromNode() {
			return a.GetFromNode() < b.GetFromNode()
		}
		return a.GetToNode() < b.GetToNode()
	})
	return out
}

func (s *State) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Fetch reads a collection's catalog entry and shard map straight from
// etcd in one linearizable transaction, bypassing the local copy: for a
// caller that must not answer "no such collection" for one created through
// another node a moment ago (the local copy follows with the watch's
// delay). ok is false when either key is absent or their uids differ.
func (s *State) Fetch(ctx context.Context, name string) (*shoalv1.Collection, *shoalv1.ShardMap, bool, error) {
	resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(CollectionKey(name)), clientv3.OpGet(ShardMapKey(name))).Commit()
	if err != nil {
		return nil, nil, false, fmt.Errorf("read collection %s: %w", name, err)
	}
	cr, mr := resp.Responses[0].GetResponseRange(), resp.Responses[1].GetResponseRange()
	if len(cr.GetKvs()) == 0 || len(mr.GetKvs()) == 0 {
		return nil, nil, false, nil
	}
	c, m := &shoalv1.Collection{}, &shoalv1.ShardMap{}
	if err := proto.Unmarshal(cr.Kvs[0].Value, c); err != nil {
		return nil, nil, false, fmt.Errorf("decode collection %s: %w", name, err)
	}
	if err := proto.Unmarshal(mr.Kvs[0].Value, m); err != nil {
		return nil, nil, false, fmt.Errorf("decode shard map %s: %w", name, err)
	}
	return c, m, c.GetUid() == m.GetUid(), nil
}
