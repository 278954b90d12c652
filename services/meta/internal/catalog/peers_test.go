package catalog

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
)

func marks(t *testing.T, s *Service) map[uint64]*shoalv1.PeerMark {
	t.Helper()
	m, _, err := cluster.PeerMarks(context.Background(), s.cli)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDrainAndRemovePeer(t *testing.T) {
	cli := startEtcd(t)
	for id := uint64(1); id <= 3; id++ {
		registerStorage(t, cli, id, shoalv1.NodeType_NODE_TYPE_NORMAL)
	}
	putProto(t, cli, cluster.CollectionKey("c"), &shoalv1.Collection{Name: "c", Uid: "u1", Config: &shoalv1.CollectionConfig{ShardNumber: 1}})
	putProto(t, cli, cluster.ShardMapKey("c"), &shoalv1.ShardMap{Collection: "c", Uid: "u1", Epoch: 1, Shards: []*shoalv1.Shard{
		{Id: 0, Primary: 1, Term: 1, Replicas: []*shoalv1.Replica{{NodeId: 1, State: stateActive}, {NodeId: 2, State: stateActive}}},
	}})
	s := New(cli, Defaults{}, testutil.Logger(t))
	ctx := context.Background()
	drain := func(id uint64, cancel bool) error {
		_, err := s.DrainPeer(ctx, connect.NewRequest(&shoalv1.DrainPeerRequest{NodeId: id, Cancel: cancel}))
		return err
	}
	remove := func(id uint64, force bool) error {
		_, err := s.RemovePeer(ctx, connect.NewRequest(&shoalv1.RemovePeerRequest{NodeId: id, Force: force}))
		return err
	}

	wantCode(t, drain(42, false), connect.CodeNotFound, "Peer 42 doesn't exist")
	wantCode(t, remove(42, false), connect.CodeNotFound, "Peer 42 doesn't exist")
	wantCode(t, remove(2, false), connect.CodeInvalidArgument, "Cannot remove peer 2 as there are shards on it")

	// Drain node 2 (twice: no change), then undo it.
	for range 2 {
		if err := drain(2, false); err != nil {
			t.Fatal(err)
		}
	}
	if m := marks(t, s)[2]; !m.GetDraining() || m.GetRemoved() {
		t.Fatalf("mark after drain: %v", m)
	}
	// A draining node is no transfer target.
	if err := drain(3, false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, do(s, replicateReq(transferOp(0, 1, 3, ""))), connect.CodeInvalidArgument, "being drained")
	if err := drain(3, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := marks(t, s)[3]; ok {
		t.Fatal("a cancelled drain must leave no mark")
	}

	// Node 3 holds nothing: it may go without force; again is no error.
	if err := remove(3, false); err != nil {
		t.Fatal(err)
	}
	if err := remove(3, false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, drain(3, false), connect.CodeInvalidArgument, "was removed")
	wantCode(t, do(s, replicateReq(transferOp(0, 1, 3, ""))), connect.CodeInvalidArgument, "was removed")
	// Node 2 holds a replica: force removes it anyway (the controller
	// re-creates its replicas); the map is left to the controller.
	if err := remove(2, true); err != nil {
		t.Fatal(err)
	}
	if m := marks(t, s)[2]; !m.GetRemoved() {
		t.Fatalf("mark after forced removal: %v", m)
	}
	if m := storedMap(t, cli, "c"); m.GetEpoch() != 1 {
		t.Fatalf("removal changed the map: %v", m)
	}
}

func do(s *Service, req *shoalv1.UpdateClusterSetupRequest) error {
	_, err := s.UpdateClusterSetup(context.Background(), connect.NewRequest(req))
	return err
}

func TestTransferQueuedBeyondLimits(t *testing.T) {
	cli := startEtcd(t)
	for id := uint64(1); id <= 3; id++ {
		registerStorage(t, cli, id, shoalv1.NodeType_NODE_TYPE_NORMAL)
	}
	putProto(t, cli, cluster.CollectionKey("c"), &shoalv1.Collection{Name: "c", Uid: "u1", Config: &shoalv1.CollectionConfig{ShardNumber: 2}})
	putProto(t, cli, cluster.ShardMapKey("c"), &shoalv1.ShardMap{Collection: "c", Uid: "u1", Epoch: 1, Shards: []*shoalv1.Shard{
		{Id: 0, Primary: 1, Term: 1, Replicas: []*shoalv1.Replica{{NodeId: 1, State: stateActive}}},
		{Id: 1, Primary: 1, Term: 1, Replicas: []*shoalv1.Replica{{NodeId: 1, State: stateActive}}},
	}})
	s := New(cli, Defaults{TransferLimits: cluster.TransferLimits{Incoming: 1, Outgoing: 1}}, testutil.Logger(t))
	if err := do(s, replicateReq(transferOp(0, 1, 2, ""))); err != nil {
		t.Fatal(err)
	}
	if err := do(s, replicateReq(transferOp(1, 1, 3, ""))); err != nil {
		t.Fatal(err)
	}
	trs := storedTransfers(t, s)
	if len(trs) != 2 {
		t.Fatalf("records: %v", trs)
	}
	byShard := map[uint32]storedTransfer{}
	for _, tr := range trs {
		byShard[tr.GetTransfer().GetShardId()] = tr
	}
	// The first started (Partial target); the second, out of node 1's
	// one outgoing slot, is queued without a target replica.
	if a := byShard[0]; a.GetTransfer().GetQueued() || a.GetTargetState() != statePartial {
		t.Fatalf("first transfer must start: %v %v", a.GetTransfer(), a.GetTargetState())
	}
	if b := byShard[1]; !b.GetTransfer().GetQueued() || b.GetTargetState() != shoalv1.ReplicaState_REPLICA_STATE_UNSPECIFIED {
		t.Fatalf("second transfer must be queued: %v %v", b.GetTransfer(), b.GetTargetState())
	}
	// A queued transfer can be aborted like a running one.
	if err := do(s, abortReq(1, 1, 3)); err != nil {
		t.Fatal(err)
	}
}

func TestPlaceableSkipsMarkedNodes(t *testing.T) {
	var nodes []*shoalv1.Node
	for id := uint64(1); id <= 4; id++ {
		nodes = append(nodes, &shoalv1.Node{Id: id, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE})
	}
	got := placementNodes(placeable(nodes, map[uint64]*shoalv1.PeerMark{2: {Draining: true}, 3: {Removed: true}}))
	if len(got) != 2 || got[0] != 1 || got[1] != 4 {
		t.Fatalf("placement nodes %v, want [1 4]", got)
	}
	if len(nodes) != 4 {
		t.Fatal("placeable must not change its input")
	}
}
