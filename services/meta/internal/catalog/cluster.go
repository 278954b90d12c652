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

// Transfer methods a request may name (empty: automatic). Every method
// currently runs the same way: the shard's primary ships its log to the
// new replica, or a full copy when the log no longer reaches back.
var transferMethods = map[string]bool{"": true, "stream_records": true, "snapshot": true, "wal_delta": true}

const (
	kindReplicate = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_REPLICATE
	kindMove      = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_MOVE
	kindDrop      = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_DROP
	stateActive   = shoalv1.ReplicaState_REPLICA_STATE_ACTIVE
	statePartial  = shoalv1.ReplicaState_REPLICA_STATE_PARTIAL
	stateDead     = shoalv1.ReplicaState_REPLICA_STATE_DEAD
)

// setup is what one attempt of a cluster operation reads and decides.
type setup struct {
	coll      *shoalv1.Collection
	m         *shoalv1.ShardMap
	mapRev    int64
	nodes     map[uint64]*shoalv1.Node
	transfers map[string]*shoalv1.ShardTransfer
	trRevs    map[string]int64
	// rev is the snapshot's revision; others are the other collections'
	// shard maps and every transfer record (for the limits), marks the
	// peer marks.
	rev     int64
	others  []*shoalv1.ShardMap
	records []*shoalv1.ShardTransfer
	marks   map[uint64]*shoalv1.PeerMark
	limits  cluster.TransferLimits
	// guardTransfers makes the write depend on no transfer record having
	// changed since the snapshot (a start took a slot under the limits).
	guardTransfers bool

	mapChanged bool
	puts       map[string]*shoalv1.ShardTransfer
	deletes    []string
}

// UpdateClusterSetup applies one cluster operation: the shard map edit
// and the transfer record change are written in one transaction guarded
// by the map's and the records' revisions, retried on conflict.
func (s *Service) UpdateClusterSetup(ctx context.Context, req *connect.Request[shoalv1.UpdateClusterSetupRequest]) (*connect.Response[shoalv1.UpdateClusterSetupResponse], error) {
	name := req.Msg.GetCollection()
	if err := ValidateName(name); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	for {
		st, err := s.readSetup(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := st.apply(req.Msg, time.Now()); err != nil {
			return nil, err
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(cluster.ShardMapKey(name)), "=", st.mapRev)}
		var ops []clientv3.Op
		if st.mapChanged {
			st.m.Epoch++
			val, err := proto.Marshal(st.m)
			if err != nil {
				return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("encode shard map %s: %w", name, err))
			}
			ops = append(ops, clientv3.OpPut(cluster.ShardMapKey(name), string(val)))
		}
		for key, t := range st.puts {
			val, err := proto.Marshal(t)
			if err != nil {
				return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("encode transfer %s: %w", key, err))
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", st.trRevs[key]))
			ops = append(ops, clientv3.OpPut(key, string(val)))
		}
		for _, key := range st.deletes {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", st.trRevs[key]))
			ops = append(ops, clientv3.OpDelete(key))
		}
		if st.guardTransfers {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(cluster.TransfersPrefix), "<", st.rev+1).WithPrefix())
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return nil, storeError(ctx, "update cluster setup of "+name, err)
		}
		if resp.Succeeded {
			s.log.Info().Str("collection", name).Str("operation", describeOp(req.Msg)).Int64("revision", resp.Header.Revision).Msg("cluster setup updated")
			return connect.NewResponse(&shoalv1.UpdateClusterSetupResponse{Revision: resp.Header.Revision}), nil
		}
	}
}

// readSetup reads the collection, its shard map, the registered nodes and
// the collection's transfer records in one snapshot.
func (s *Service) readSetup(ctx context.Context, name string) (*setup, error) {
	snap, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(cluster.CollectionKey(name)),
		clientv3.OpGet(cluster.ShardMapKey(name)),
		clientv3.OpGet(cluster.NodesPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(cluster.TransferPrefix(name), clientv3.WithPrefix()),
		clientv3.OpGet(cluster.ShardMapsPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(cluster.TransfersPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(cluster.PeersPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, storeError(ctx, "read cluster setup of "+name, err)
	}
	collKvs, mapKvs := snap.Responses[0].GetResponseRange().GetKvs(), snap.Responses[1].GetResponseRange().GetKvs()
	if len(collKvs) == 0 || len(mapKvs) == 0 {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", name))
	}
	st := &setup{
		coll: &shoalv1.Collection{}, m: &shoalv1.ShardMap{}, mapRev: mapKvs[0].ModRevision,
		nodes: map[uint64]*shoalv1.Node{}, transfers: map[string]*shoalv1.ShardTransfer{}, trRevs: map[string]int64{},
		puts: map[string]*shoalv1.ShardTransfer{},
		rev:  snap.Header.GetRevision(), limits: s.defaults.TransferLimits,
		marks: cluster.DecodePeerMarks(snap.Responses[6].GetResponseRange().GetKvs()),
	}
	if err := proto.Unmarshal(collKvs[0].Value, st.coll); err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("decode collection %s: %w", name, err))
	}
	if err := proto.Unmarshal(mapKvs[0].Value, st.m); err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("decode shard map %s: %w", name, err))
	}
	for _, kv := range snap.Responses[2].GetResponseRange().GetKvs() {
		n := &shoalv1.Node{}
		if err := proto.Unmarshal(kv.Value, n); err != nil {
			s.log.Warn().Err(err).Str("key", string(kv.Key)).Msg("skip undecodable node")
			continue
		}
		if n.GetTier() == shoalv1.NodeTier_NODE_TIER_STORAGE {
			st.nodes[n.GetId()] = n
		}
	}
	for _, kv := range snap.Responses[3].GetResponseRange().GetKvs() {
		t := &shoalv1.ShardTransfer{}
		if err := proto.Unmarshal(kv.Value, t); err != nil {
			s.log.Warn().Err(err).Str("key", string(kv.Key)).Msg("skip undecodable transfer record")
			continue
		}
		st.transfers[string(kv.Key)] = t
		st.trRevs[string(kv.Key)] = kv.ModRevision
	}
	for _, kv := range snap.Responses[4].GetResponseRange().GetKvs() {
		m := &shoalv1.ShardMap{}
		if proto.Unmarshal(kv.Value, m) == nil && string(kv.Key) != cluster.ShardMapKey(name) {
			st.others = append(st.others, m)
		}
	}
	for _, kv := range snap.Responses[5].GetResponseRange().GetKvs() {
		t := &shoalv1.ShardTransfer{}
		if proto.Unmarshal(kv.Value, t) == nil {
			st.records = append(st.records, t)
		}
	}
	return st, nil
}

func badInput(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: "+format, args...))
}

// apply decides the operation on st's map and records.
func (st *setup) apply(req *shoalv1.UpdateClusterSetupRequest, now time.Time) error {
	switch op := req.GetOperation().(type) {
	case *shoalv1.UpdateClusterSetupRequest_ReplicateShard:
		return st.transfer(op.ReplicateShard, kindReplicate, now)
	case *shoalv1.UpdateClusterSetupRequest_MoveShard:
		return st.transfer(op.MoveShard, kindMove, now)
	case *shoalv1.UpdateClusterSetupRequest_DropReplica:
		return st.drop(op.DropReplica, now)
	case *shoalv1.UpdateClusterSetupRequest_AbortTransfer:
		return st.abort(op.AbortTransfer)
	case *shoalv1.UpdateClusterSetupRequest_RestartTransfer:
		return st.restart(op.RestartTransfer, now)
	}
	return badInput("no cluster operation given")
}

// shard returns the shard with id, or a 400 error.
func (st *setup) shard(id uint32) (*shoalv1.Shard, error) {
	sh := cluster.FindShard(st.m, id)
	if sh == nil {
		return nil, badInput("Shard %d does not exist in collection `%s`", id, st.coll.GetName())
	}
	return sh, nil
}

// busy reports whether a transfer record of shard involves node.
func (st *setup) busy(shard uint32, node uint64) bool {
	for _, t := range st.transfers {
		if t.GetShardId() == shard && (t.GetFromNode() == node || t.GetToNode() == node) {
			return true
		}
	}
	return false
}

// transfer starts a replicate or move: the target gets an empty Partial
// replica, which the shard's primary fills and sets Active; the record
// tells the controller what to do then.
func (st *setup) transfer(op *shoalv1.ShardTransferOp, kind shoalv1.ShardTransferKind, now time.Time) error {
	if !transferMethods[op.GetMethod()] {
		return badInput("unknown transfer method %q; expected stream_records, snapshot or wal_delta", op.GetMethod())
	}
	sh, err := st.shard(op.GetShardId())
	if err != nil {
		return err
	}
	from, to := op.GetFromPeerId(), op.GetToPeerId()
	if from == to {
		return badInput("Source and target peers are the same (%d)", from)
	}
	src := cluster.FindReplica(sh, from)
	if src == nil {
		return badInput("Shard %d is not on peer %d", sh.GetId(), from)
	}
	if src.GetState() != stateActive {
		return badInput("Shard %d on peer %d is not Active", sh.GetId(), from)
	}
	n, ok := st.nodes[to]
	if !ok {
		return badInput("Peer %d does not exist", to)
	}
	if n.GetNodeType() == shoalv1.NodeType_NODE_TYPE_LISTENER {
		return badInput("Peer %d is a listener node and cannot hold an Active replica", to)
	}
	if m := st.marks[to]; m.GetRemoved() {
		return badInput("Peer %d was removed from the cluster", to)
	} else if m.GetDraining() {
		return badInput("Peer %d is being drained and takes no new replica", to)
	}
	if cluster.FindReplica(sh, to) != nil {
		return badInput("Shard %d is already on peer %d", sh.GetId(), to)
	}
	if st.busy(sh.GetId(), from) || st.busy(sh.GetId(), to) {
		return badInput("Shard %d is already involved in a transfer on peer %d or %d", sh.GetId(), from, to)
	}
	t := &shoalv1.ShardTransfer{
		Collection: st.coll.GetName(), Uid: st.coll.GetUid(), ShardId: sh.GetId(), FromNode: from, ToNode: to,
		Kind: kind, Method: op.GetMethod(), StartedUnixMs: now.UnixMilli(),
	}
	// Within the limits the transfer starts now; beyond them it is queued
	// (no target replica yet) and the controller starts it when a slot
	// frees.
	st.guardTransfers = true
	if cluster.NewTransferLoad(st.limits, append([]*shoalv1.ShardMap{st.m}, st.others...), st.records).Allows(from, to) {
		sh.Replicas = append(sh.Replicas, &shoalv1.Replica{NodeId: to, State: statePartial})
		st.mapChanged = true
	} else {
		t.Queued = true
	}
	st.puts[cluster.TransferKey(st.coll.GetName(), sh.GetId(), from, to)] = t
	return nil
}

// drop removes a replica, refusing the shard's last one and its last
// Active one. The primary's replica is not removed here: a DROP record
// lets the controller hand the primary role over first.
func (st *setup) drop(op *shoalv1.DropReplicaOp, now time.Time) error {
	sh, err := st.shard(op.GetShardId())
	if err != nil {
		return err
	}
	peer := op.GetPeerId()
	r := cluster.FindReplica(sh, peer)
	if r == nil {
		return badInput("Shard %d is not on peer %d", sh.GetId(), peer)
	}
	if len(sh.GetReplicas()) == 1 {
		return badInput("Cannot drop the last replica of shard %d", sh.GetId())
	}
	if r.GetState() == stateActive && cluster.ActiveCount(sh) == 1 {
		return badInput("Cannot drop the last Active replica of shard %d", sh.GetId())
	}
	// Transfers to the dropped replica end with it.
	for key, t := range st.transfers {
		if t.GetShardId() == sh.GetId() && t.GetToNode() == peer {
			st.deletes = append(st.deletes, key)
		}
	}
	if sh.GetPrimary() == peer {
		key := cluster.TransferKey(st.coll.GetName(), sh.GetId(), peer, 0)
		if _, ok := st.transfers[key]; !ok {
			st.puts[key] = &shoalv1.ShardTransfer{
				Collection: st.coll.GetName(), Uid: st.coll.GetUid(), ShardId: sh.GetId(), FromNode: peer,
				Kind: kindDrop, StartedUnixMs: now.UnixMilli(),
			}
		}
		return nil
	}
	cluster.RemoveReplica(sh, peer)
	st.mapChanged = true
	return nil
}

// abort ends a transfer: its record goes, and the target replica too
// unless it is Active already (a move then keeps both replicas).
func (st *setup) abort(op *shoalv1.AbortTransferOp) error {
	key, t, err := st.record(op.GetShardId(), op.GetFromPeerId(), op.GetToPeerId())
	if err != nil {
		return err
	}
	st.deletes = append(st.deletes, key)
	if sh := cluster.FindShard(st.m, t.GetShardId()); sh != nil {
		if r := cluster.FindReplica(sh, t.GetToNode()); r != nil && r.GetState() != stateActive && sh.GetPrimary() != t.GetToNode() {
			cluster.RemoveReplica(sh, t.GetToNode())
			st.mapChanged = true
		}
	}
	return nil
}

// restart records a new method and start time for a transfer, and makes
// a Dead target Partial again so that the primary retries it.
func (st *setup) restart(op *shoalv1.ShardTransferOp, now time.Time) error {
	if !transferMethods[op.GetMethod()] {
		return badInput("unknown transfer method %q; expected stream_records, snapshot or wal_delta", op.GetMethod())
	}
	key, t, err := st.record(op.GetShardId(), op.GetFromPeerId(), op.GetToPeerId())
	if err != nil {
		return err
	}
	t = proto.Clone(t).(*shoalv1.ShardTransfer)
	t.Method, t.StartedUnixMs = op.GetMethod(), now.UnixMilli()
	st.puts[key] = t
	if sh := cluster.FindShard(st.m, t.GetShardId()); sh != nil {
		if r := cluster.FindReplica(sh, t.GetToNode()); r != nil && r.GetState() == stateDead {
			r.State = statePartial
			st.mapChanged = true
		}
	}
	return nil
}

// record returns a transfer's record, or NotFound.
func (st *setup) record(shard uint32, from, to uint64) (string, *shoalv1.ShardTransfer, error) {
	key := cluster.TransferKey(st.coll.GetName(), shard, from, to)
	t, ok := st.transfers[key]
	if !ok || t.GetKind() == kindDrop || t.GetUid() != st.coll.GetUid() {
		return "", nil, connect.NewError(connect.CodeNotFound,
			fmt.Errorf("Shard transfer of shard %d from peer %d to peer %d does not exist", shard, from, to))
	}
	return key, t, nil
}

// describeOp names an operation for the log.
func describeOp(req *shoalv1.UpdateClusterSetupRequest) string {
	switch op := req.GetOperation().(type) {
	case *shoalv1.UpdateClusterSetupRequest_ReplicateShard:
		return fmt.Sprintf("replicate_shard %d %d->%d", op.ReplicateShard.GetShardId(), op.ReplicateShard.GetFromPeerId(), op.ReplicateShard.GetToPeerId())
	case *shoalv1.UpdateClusterSetupRequest_MoveShard:
		return fmt.Sprintf("move_shard %d %d->%d", op.MoveShard.GetShardId(), op.MoveShard.GetFromPeerId(), op.MoveShard.GetToPeerId())
	case *shoalv1.UpdateClusterSetupRequest_DropReplica:
		return fmt.Sprintf("drop_replica %d on %d", op.DropReplica.GetShardId(), op.DropReplica.GetPeerId())
	case *shoalv1.UpdateClusterSetupRequest_AbortTransfer:
		return fmt.Sprintf("abort_transfer %d %d->%d", op.AbortTransfer.GetShardId(), op.AbortTransfer.GetFromPeerId(), op.AbortTransfer.GetToPeerId())
	case *shoalv1.UpdateClusterSetupRequest_RestartTransfer:
		return fmt.Sprintf("restart_transfer %d %d->%d", op.RestartTransfer.GetShardId(), op.RestartTransfer.GetFromPeerId(), op.RestartTransfer.GetToPeerId())
	}
	return "none"
}
