package catalog

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// peerView is what DrainPeer and RemovePeer read in one snapshot.
type peerView struct {
	rev        int64
	registered bool
	// replicas is how many replicas the shard maps place on the node.
	replicas int
	mark     *shoalv1.PeerMark
	markRev  int64
}

// readPeer reads node id's registration, mark and the shard maps.
func (s *Service) readPeer(ctx context.Context, id uint64) (*peerView, error) {
	snap, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(cluster.NodeKey(id)),
		clientv3.OpGet(cluster.PeerKey(id)),
		clientv3.OpGet(cluster.ShardMapsPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, storeError(ctx, fmt.Sprintf("read peer %d", id), err)
	}
	pv := &peerView{rev: snap.Header.GetRevision()}
	for _, kv := range snap.Responses[0].GetResponseRange().GetKvs() {
		n := &shoalv1.Node{}
		if proto.Unmarshal(kv.Value, n) == nil && n.GetTier() == shoalv1.NodeTier_NODE_TIER_STORAGE {
			pv.registered = true
		}
	}
	if kvs := snap.Responses[1].GetResponseRange().GetKvs(); len(kvs) > 0 {
		pv.mark, pv.markRev = &shoalv1.PeerMark{}, kvs[0].ModRevision
		if err := proto.Unmarshal(kvs[0].Value, pv.mark); err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("decode peer mark %d: %w", id, err))
		}
	}
	for _, kv := range snap.Responses[2].GetResponseRange().GetKvs() {
		m := &shoalv1.ShardMap{}
		if err := proto.Unmarshal(kv.Value, m); err != nil {
			s.log.Warn().Err(err).Str("key", string(kv.Key)).Msg("skip undecodable shard map")
			continue
		}
		for _, sh := range m.GetShards() {
			if cluster.FindReplica(sh, id) != nil {
				pv.replicas++
			}
		}
	}
	if !pv.registered && pv.replicas == 0 && pv.mark == nil {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Peer %d doesn't exist", id))
	}
	return pv, nil
}

// putMark writes (or, with m nil, deletes) node id's mark if it has not
// changed since pv was read; extra guards the transaction further.
// Reports whether it was written.
func (s *Service) putMark(ctx context.Context, id uint64, pv *peerView, m *shoalv1.PeerMark, extra ...clientv3.Cmp) (int64, bool, error) {
	op := clientv3.OpDelete(cluster.PeerKey(id))
	if m != nil {
		val, err := proto.Marshal(m)
		if err != nil {
			return 0, false, connect.NewError(connect.CodeInternal, fmt.Errorf("encode peer mark %d: %w", id, err))
		}
		op = clientv3.OpPut(cluster.PeerKey(id), string(val))
	}
	cmps := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(cluster.PeerKey(id)), "=", pv.markRev)}, extra...)
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(op).Commit()
	if err != nil {
		return 0, false, storeError(ctx, fmt.Sprintf("mark peer %d", id), err)
	}
	return resp.Header.GetRevision(), resp.Succeeded, nil
}

// DrainPeer marks a storage node draining, or ends its drain (cancel).
// Draining an already draining node, or ending a drain that is not on,
// succeeds without change. A removed node cannot be drained.
func (s *Service) DrainPeer(ctx context.Context, req *connect.Request[shoalv1.DrainPeerRequest]) (*connect.Response[shoalv1.DrainPeerResponse], error) {
	id := req.Msg.GetNodeId()
	for {
		pv, err := s.readPeer(ctx, id)
		if err != nil {
			return nil, err
		}
		if pv.mark.GetRemoved() {
			return nil, badInput("Peer %d was removed from the cluster", id)
		}
		var m *shoalv1.PeerMark
		switch {
		case req.Msg.GetCancel() && pv.mark == nil, !req.Msg.GetCancel() && pv.mark.GetDraining():
			return connect.NewResponse(&shoalv1.DrainPeerResponse{Revision: pv.rev}), nil
		case !req.Msg.GetCancel():
			m = &shoalv1.PeerMark{NodeId: id, Draining: true, SinceUnixMs: time.Now().UnixMilli()}
		}
		rev, ok, err := s.putMark(ctx, id, pv, m)
		if err != nil {
			return nil, err
		}
		if ok {
			s.log.Info().Uint64("peer", id).Bool("draining", m != nil).Int("replicas", pv.replicas).Msg("peer drain changed")
			return connect.NewResponse(&shoalv1.DrainPeerResponse{Revision: rev}), nil
		}
	}
}

// RemovePeer records a storage node as removed. Without force it is
// refused while a shard map names the node (the check and the mark are
// one transaction guarded on every shard map, so no replica is placed on
// it meanwhile). With force its replicas count as lost at once: the
// controller drops them and re-creates them on other nodes. Removing a
// removed node succeeds without change. The mark stays: the node, if it
// comes back, is never given a replica again.
func (s *Service) RemovePeer(ctx context.Context, req *connect.Request[shoalv1.RemovePeerRequest]) (*connect.Response[shoalv1.RemovePeerResponse], error) {
	id := req.Msg.GetNodeId()
	for {
		pv, err := s.readPeer(ctx, id)
		if err != nil {
			return nil, err
		}
		if pv.mark.GetRemoved() {
			return connect.NewResponse(&shoalv1.RemovePeerResponse{Revision: pv.rev}), nil
		}
		if pv.replicas > 0 && !req.Msg.GetForce() {
			return nil, badInput("Cannot remove peer %d as there are shards on it", id)
		}
		m := &shoalv1.PeerMark{NodeId: id, Removed: true, SinceUnixMs: time.Now().UnixMilli()}
		rev, ok, err := s.putMark(ctx, id, pv, m,
			clientv3.Compare(clientv3.ModRevision(cluster.ShardMapsPrefix), "<", pv.rev+1).WithPrefix())
		if err != nil {
			return nil, err
		}
		if ok {
			s.log.Warn().Uint64("peer", id).Int("replicas", pv.replicas).Bool("force", req.Msg.GetForce()).Msg("peer removed")
			return connect.NewResponse(&shoalv1.RemovePeerResponse{Revision: rev}), nil
		}
	}
}
