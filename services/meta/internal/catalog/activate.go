package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// replicaKey names one replica of the collection being activated.
type replicaKey struct {
	node  uint64
	shard uint32
}

// errRestart asks activate to read the state again (the watch broke).
var errRestart = errors.New("restart activation")

// waitContext ends a little before ctx's deadline, so that the caller
// receives activate's explanation instead of its own timeout: 10% of the
// remaining time, at most 500 ms.
func waitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := max(min(time.Until(deadline)/10, 500*time.Millisecond), 0)
	return context.WithDeadline(ctx, deadline.Add(-margin))
}

// activate waits until the storage node of every Initializing replica in
// coll's shard map has reported it (a ReplicaStatus with the collection's
// uid and state Active at its status key), then sets those replicas Active
// and bumps the epoch with a compare-and-swap on the map's mod revision.
// It returns the resulting map; a map with no Initializing replica is
// returned as it is. The map may change meanwhile (another meta node
// activating the same collection after a retry, the controller): every
// change is read and the swap retried.
func (s *Service) activate(ctx context.Context, coll *shoalv1.Collection) (*shoalv1.ShardMap, error) {
	for {
		m, err := s.activateOnce(ctx, coll)
		if errors.Is(err, errRestart) {
			continue
		}
		return m, err
	}
}

func (s *Service) activateOnce(ctx context.Context, coll *shoalv1.Collection) (*shoalv1.ShardMap, error) {
	name, mapKey := coll.Name, cluster.ShardMapKey(coll.Name)
	resp, err := s.cli.Get(ctx, mapKey)
	if err != nil {
		return nil, s.waitError(ctx, coll, nil, nil, err)
	}
	m, modRev, err := decodeMap(coll, resp.Kvs)
	if err != nil {
		return nil, err
	}
	rev := resp.Header.Revision
	pending := initializing(m)
	if len(pending) == 0 {
		return m, nil
	}

	// What the nodes reported up to rev, then a watch from rev+1.
	ready := map[replicaKey]bool{}
	seen := map[uint64]bool{}
	for k := range pending {
		if seen[k.node] {
			continue
		}
		seen[k.node] = true
		prefix := fmt.Sprintf("%s%d/%s/", cluster.StatusPrefix, k.node, name)
		st, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
		if err != nil {
			return nil, s.waitError(ctx, coll, pending, ready, err)
		}
		for _, kv := range st.Kvs {
			noteStatus(ready, coll, mvccpb.PUT, kv)
		}
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	statusCh := s.cli.Watch(watchCtx, cluster.StatusPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	mapCh := s.cli.Watch(watchCtx, mapKey, clientv3.WithRev(rev+1))

	for {
		if allReady(pending, ready) {
			next := proto.Clone(m).(*shoalv1.ShardMap)
			next.Epoch++
			for _, sh := range next.Shards {
				for _, r := range sh.Replicas {
					if pending[replicaKey{r.NodeId, sh.Id}] {
						r.State = shoalv1.ReplicaState_REPLICA_STATE_ACTIVE
					}
				}
			}
			val, err := proto.Marshal(next)
			if err != nil {
				return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("encode shard map: %w", err))
			}
			cas, err := s.cli.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(mapKey), "=", modRev)).
				Then(clientv3.OpPut(mapKey, string(val))).
				Else(clientv3.OpGet(mapKey)).
				Commit()
			if err != nil {
				return nil, s.waitError(ctx, coll, pending, ready, err)
			}
			if cas.Succeeded {
				s.log.Info().Str("collection", name).Uint64("epoch", next.Epoch).Int("replicas", len(pending)).Msg("replicas active")
				return next, nil
			}
			// The map changed since we read it: start over from the new one.
			if m, modRev, err = decodeMap(coll, cas.Responses[0].GetResponseRange().GetKvs()); err != nil {
				return nil, err
			}
			if pending = initializing(m); len(pending) == 0 {
				return m, nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, s.waitError(ctx, coll, pending, ready, ctx.Err())
		case wr, ok := <-statusCh:
			if !ok || wr.Err() != nil {
				return nil, s.watchBroken(ctx, coll, pending, ready)
			}
			for _, ev := range wr.Events {
				noteStatus(ready, coll, ev.Type, ev.Kv)
			}
		case wr, ok := <-mapCh:
			if !ok || wr.Err() != nil {
				return nil, s.watchBroken(ctx, coll, pending, ready)
			}
			for _, ev := range wr.Events {
				var kvs []*mvccpb.KeyValue
				if ev.Type == mvccpb.PUT {
					kvs = []*mvccpb.KeyValue{ev.Kv}
				}
				if m, modRev, err = decodeMap(coll, kvs); err != nil {
					return nil, err
				}
			}
			if pending = initializing(m); len(pending) == 0 {
				return m, nil
			}
		}
	}
}

// watchBroken decides what a closed or failed watch means: the end of the
// wait when ctx is done, otherwise a restart from a fresh read (the watch
// may have been compacted or the stream cut).
func (s *Service) watchBroken(ctx context.Context, coll *shoalv1.Collection, pending, ready map[replicaKey]bool) error {
	if ctx.Err() != nil {
		return s.waitError(ctx, coll, pending, ready, ctx.Err())
	}
	s.log.Debug().Str("collection", coll.Name).Msg("activation watch broken; reading again")
	select {
	case <-ctx.Done():
		return s.waitError(ctx, coll, pending, ready, ctx.Err())
	case <-time.After(100 * time.Millisecond):
		return errRestart
	}
}

// waitError explains a wait that could not finish. The collection exists
// whatever happened, which the message says.
func (s *Service) waitError(ctx context.Context, coll *shoalv1.Collection, pending, ready map[replicaKey]bool, err error) error {
	n := 0
	for k := range pending {
		if ready[k] {
			n++
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		progress := ""
		if pending != nil {
			progress = fmt.Sprintf(" (%d of %d ready)", n, len(pending))
		}
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf(
			"collection `%s` exists but its replicas are still initializing%s; retry the request to wait again", coll.Name, progress))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, fmt.Errorf("wait for collection `%s` replicas: %w", coll.Name, err))
	default:
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("collection `%s` exists but its replicas could not be activated: meta store: %w", coll.Name, err))
	}
}

// decodeMap decodes the shard map of coll from a Get result; no value or
// a map of another creation (another uid) means the collection was deleted
// (and maybe created again) meanwhile.
func decodeMap(coll *shoalv1.Collection, kvs []*mvccpb.KeyValue) (*shoalv1.ShardMap, int64, error) {
	gone := connect.NewError(connect.CodeNotFound, fmt.Errorf("Not found: Collection `%s` was deleted while its replicas were initializing", coll.Name))
	if len(kvs) == 0 {
		return nil, 0, gone
	}
	m := &shoalv1.ShardMap{}
	if err := proto.Unmarshal(kvs[0].Value, m); err != nil {
		return nil, 0, connect.NewError(connect.CodeInternal, fmt.Errorf("decode shard map %s: %w", coll.Name, err))
	}
	if m.Uid != coll.Uid {
		return nil, 0, gone
	}
	return m, kvs[0].ModRevision, nil
}

// initializing returns the replicas of m still Initializing.
func initializing(m *shoalv1.ShardMap) map[replicaKey]bool {
	out := map[replicaKey]bool{}
	for _, sh := range m.Shards {
		for _, r := range sh.Replicas {
			if r.State == shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING {
				out[replicaKey{r.NodeId, sh.Id}] = true
			}
		}
	}
	return out
}

func allReady(pending, ready map[replicaKey]bool) bool {
	for k := range pending {
		if !ready[k] {
			return false
		}
	}
	return true
}

// noteStatus records whether a status key event reports an Active replica
// of coll. Keys of other collections and undecodable values are ignored;
// a deleted key or another state makes the replica not ready again.
func noteStatus(ready map[replicaKey]bool, coll *shoalv1.Collection, typ mvccpb.Event_EventType, kv *mvccpb.KeyValue) {
	k, ok := parseStatusKey(string(kv.Key), coll.Name)
	if !ok {
		return
	}
	if typ == mvccpb.DELETE {
		delete(ready, k)
		return
	}
	st := &shoalv1.ReplicaStatus{}
	if err := proto.Unmarshal(kv.Value, st); err != nil {
		return
	}
	if st.Uid == coll.Uid && st.State == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
		ready[k] = true
	} else {
		delete(ready, k)
	}
}

// parseStatusKey splits a status key (<StatusPrefix><node>/<collection>/<shard>)
// of the named collection.
func parseStatusKey(key, collection string) (replicaKey, bool) {
	parts := strings.Split(strings.TrimPrefix(key, cluster.StatusPrefix), "/")
	if len(parts) != 3 || parts[1] != collection {
		return replicaKey{}, false
	}
	node, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil {
		return replicaKey{}, false
	}
	shard, err := strconv.ParseUint(parts[2], 10, 32)
	if err != nil {
		return replicaKey{}, false
	}
	return replicaKey{node, uint32(shard)}, true
}
