package catalog

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

func transferOp(shard uint32, from, to uint64, method string) *shoalv1.ShardTransferOp {
	return &shoalv1.ShardTransferOp{ShardId: shard, FromPeerId: from, ToPeerId: to, Method: method}
}

func replicateReq(op *shoalv1.ShardTransferOp) *shoalv1.UpdateClusterSetupRequest {
	return &shoalv1.UpdateClusterSetupRequest{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_ReplicateShard{ReplicateShard: op}}
}

func dropReq(shard uint32, peer uint64) *shoalv1.UpdateClusterSetupRequest {
	return &shoalv1.UpdateClusterSetupRequest{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_DropReplica{DropReplica: &shoalv1.DropReplicaOp{ShardId: shard, PeerId: peer}}}
}

func abortReq(shard uint32, from, to uint64) *shoalv1.UpdateClusterSetupRequest {
	return &shoalv1.UpdateClusterSetupRequest{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_AbortTransfer{AbortTransfer: &shoalv1.AbortTransferOp{ShardId: shard, FromPeerId: from, ToPeerId: to}}}
}

// storedTransfers reads collection c's transfer records (drops of a
// primary are not transfers and are left out) with their target
// replicas' states in the stored map.
func storedTransfers(t *testing.T, s *Service) []storedTransfer {
	t.Helper()
	resp, err := s.cli.Get(context.Background(), cluster.TransferPrefix("c"), clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("list transfers: %v", err)
	}
	m := storedMap(t, s.cli, "c")
	var out []storedTransfer
	for _, kv := range resp.Kvs {
		tr := &shoalv1.ShardTransfer{}
		if err := proto.Unmarshal(kv.Value, tr); err != nil {
			t.Fatal(err)
		}
		if tr.GetKind() == kindDrop {
			continue
		}
		st := storedTransfer{tr: tr}
		if r := cluster.FindReplica(cluster.FindShard(m, tr.GetShardId()), tr.GetToNode()); r != nil {
			st.target = r.GetState()
		}
		out = append(out, st)
	}
	return out
}

type storedTransfer struct {
	tr     *shoalv1.ShardTransfer
	target shoalv1.ReplicaState
}

func (s storedTransfer) GetTransfer() *shoalv1.ShardTransfer  { return s.tr }
func (s storedTransfer) GetTargetState() shoalv1.ReplicaState { return s.target }

func TestUpdateClusterSetup(t *testing.T) {
	cli := startEtcd(t)
	for id := uint64(1); id <= 4; id++ {
		registerStorage(t, cli, id, shoalv1.NodeType_NODE_TYPE_NORMAL)
	}
	registerStorage(t, cli, 9, shoalv1.NodeType_NODE_TYPE_LISTENER)
	putProto(t, cli, cluster.CollectionKey("c"), &shoalv1.Collection{Name: "c", Uid: "u1", Config: &shoalv1.CollectionConfig{ShardNumber: 3}})
	putProto(t, cli, cluster.ShardMapKey("c"), &shoalv1.ShardMap{Collection: "c", Uid: "u1", Epoch: 1, Shards: []*shoalv1.Shard{
		{Id: 0, Primary: 1, Term: 1, Replicas: []*shoalv1.Replica{{NodeId: 1, State: stateActive}, {NodeId: 2, State: stateActive}}},
		{Id: 1, Primary: 2, Term: 1, Replicas: []*shoalv1.Replica{{NodeId: 2, State: stateActive}, {NodeId: 3, State: stateDead}}},
		{Id: 2, Primary: 3, Term: 1, Replicas: []*shoalv1.Replica{{NodeId: 3, State: stateActive}}},
	}})
	s := New(cli, Defaults{}, testutil.Logger(t))
	ctx := context.Background()
	do := func(req *shoalv1.UpdateClusterSetupRequest) error {
		_, err := s.UpdateClusterSetup(ctx, connect.NewRequest(req))
		return err
	}

	for _, bad := range []struct {
		req  *shoalv1.UpdateClusterSetupRequest
		code connect.Code
		msg  string
	}{
		{replicateReq(transferOp(7, 1, 3, "")), connect.CodeInvalidArgument, "Shard 7 does not exist"},
		{replicateReq(transferOp(0, 1, 42, "")), connect.CodeInvalidArgument, "Peer 42 does not exist"},
		{replicateReq(transferOp(0, 1, 9, "")), connect.CodeInvalidArgument, "listener"},
		{replicateReq(transferOp(0, 1, 2, "")), connect.CodeInvalidArgument, "already on peer 2"},
		{replicateReq(transferOp(0, 3, 4, "")), connect.CodeInvalidArgument, "is not on peer 3"},
		{replicateReq(transferOp(1, 3, 4, "")), connect.CodeInvalidArgument, "not Active"},
		{replicateReq(transferOp(0, 1, 1, "")), connect.CodeInvalidArgument, "the same"},
		{replicateReq(transferOp(0, 1, 3, "telepathy")), connect.CodeInvalidArgument, "telepathy"},
		{abortReq(0, 1, 3), connect.CodeNotFound, "does not exist"},
		{dropReq(2, 3), connect.CodeInvalidArgument, "last replica"},
		{dropReq(1, 2), connect.CodeInvalidArgument, "last Active replica"},
		{dropReq(0, 4), connect.CodeInvalidArgument, "is not on peer 4"},
		{&shoalv1.UpdateClusterSetupRequest{Collection: "gone", Operation: &shoalv1.UpdateClusterSetupRequest_DropReplica{DropReplica: &shoalv1.DropReplicaOp{}}}, connect.CodeNotFound, "gone"},
		{&shoalv1.UpdateClusterSetupRequest{Collection: "c"}, connect.CodeInvalidArgument, "no cluster operation"},
	} {
		wantCode(t, do(bad.req), bad.code, bad.msg)
	}
	if m := storedMap(t, cli, "c"); m.GetEpoch() != 1 {
		t.Fatalf("refused operations changed the map: epoch %d", m.GetEpoch())
	}

	// replicate: a Partial replica on the target and a record.
	if err := do(replicateReq(transferOp(0, 1, 3, "snapshot"))); err != nil {
		t.Fatal(err)
	}
	m := storedMap(t, cli, "c")
	if r := cluster.FindReplica(cluster.FindShard(m, 0), 3); r == nil || r.GetState() != statePartial || m.GetEpoch() != 2 {
		t.Fatalf("after replicate: %v", m)
	}
	trs := storedTransfers(t, s)
	if len(trs) != 1 || trs[0].GetTargetState() != statePartial || trs[0].GetTransfer().GetKind() != kindReplicate ||
		trs[0].GetTransfer().GetMethod() != "snapshot" || trs[0].GetTransfer().GetStartedUnixMs() == 0 {
		t.Fatalf("transfers: %v", trs)
	}
	wantCode(t, do(&shoalv1.UpdateClusterSetupRequest{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_MoveShard{MoveShard: transferOp(0, 1, 4, "")}}),
		connect.CodeInvalidArgument, "already involved")

	// restart records the new method; abort removes the record and the
	// Partial target.
	restart := &shoalv1.UpdateClusterSetupRequest{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_RestartTransfer{RestartTransfer: transferOp(0, 1, 3, "wal_delta")}}
	if err := do(restart); err != nil {
		t.Fatal(err)
	}
	if trs := storedTransfers(t, s); len(trs) != 1 || trs[0].GetTransfer().GetMethod() != "wal_delta" {
		t.Fatalf("after restart: %v", trs)
	}
	if err := do(abortReq(0, 1, 3)); err != nil {
		t.Fatal(err)
	}
	if r := cluster.FindReplica(cluster.FindShard(storedMap(t, cli, "c"), 0), 3); r != nil || len(storedTransfers(t, s)) != 0 {
		t.Fatalf("after abort: replica %v, transfers %v", r, storedTransfers(t, s))
	}

	// move: a record of kind MOVE.
	move := &shoalv1.UpdateClusterSetupRequest{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_MoveShard{MoveShard: transferOp(0, 1, 4, "")}}
	if err := do(move); err != nil {
		t.Fatal(err)
	}
	if trs := storedTransfers(t, s); len(trs) != 1 || trs[0].GetTransfer().GetKind() != kindMove || trs[0].GetTransfer().GetToNode() != 4 {
		t.Fatalf("after move: %v", trs)
	}

	// Dropping the move's target ends the transfer with it; dropping a
	// Dead follower removes it at once; dropping the primary leaves the
	// map to the controller (a DROP record, not listed as a transfer).
	if err := do(dropReq(0, 4)); err != nil {
		t.Fatal(err)
	}
	if err := do(dropReq(1, 3)); err != nil {
		t.Fatal(err)
	}
	m = storedMap(t, cli, "c")
	if cluster.FindReplica(cluster.FindShard(m, 0), 4) != nil || cluster.FindReplica(cluster.FindShard(m, 1), 3) != nil || len(storedTransfers(t, s)) != 0 {
		t.Fatalf("after drops: %v", m)
	}
	before := storedMap(t, cli, "c")
	if err := do(dropReq(0, 1)); err != nil {
		t.Fatal(err)
	}
	if after := storedMap(t, cli, "c"); !proto.Equal(before, after) {
		t.Fatalf("dropping the primary changed the map directly: %v", after)
	}
	resp, err := cli.Get(ctx, cluster.TransferKey("c", 0, 1, 0))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("drop record: %v %v", resp, err)
	}
	rec := &shoalv1.ShardTransfer{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, rec); err != nil || rec.GetKind() != kindDrop || rec.GetUid() != "u1" {
		t.Fatalf("drop record %v: %v", rec, err)
	}
}
