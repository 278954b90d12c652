package service_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

type raftStatus struct {
	info service.RaftInfo
	err  error
}

func (r *raftStatus) Status(context.Context) (service.RaftInfo, error) { return r.info, r.err }

func issueIDs(is []service.Issue) []string {
	ids := []string{}
	for _, i := range is {
		ids = append(ids, i.ID)
	}
	return ids
}

func TestIssuesFromClusterState(t *testing.T) {
	ctx := context.Background()
	fc := fake.NewCluster(3)
	raft := &raftStatus{info: service.RaftInfo{Term: 1, Leader: 5}}
	svc := service.New(service.Options{
		NodeID: 9, State: fc.State, Router: routing.New(fc.State, fc.Dialer(), nil), Meta: fc, Consensus: raft, Log: zerolog.Nop(),
	})
	if got := svc.Issues(ctx); len(got) != 0 {
		t.Fatalf("healthy empty cluster: %v", issueIDs(got))
	}
	// Two shards, replication 2 over three nodes: healthy.
	if err := svc.CreateCollection(ctx, service.CreateCollectionRequest{Name: "ok", Vectors: map[string]service.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}, ShardNumber: u32(2), ReplicationFactor: u32(2)}); err != nil {
		t.Fatal(err)
	}
	if got := svc.Issues(ctx); len(got) != 0 {
		t.Fatalf("healthy collection: %v", issueIDs(got))
	}
	// replication_factor 4 on three nodes: the fake (like meta) places 3.
	if err := svc.CreateCollection(ctx, service.CreateCollectionRequest{Name: "wide", Vectors: map[string]service.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}, ShardNumber: u32(1), ReplicationFactor: u32(4)}); err != nil {
		t.Fatal(err)
	}
	got := svc.Issues(ctx)
	want := []string{"REPLICATION_FACTOR_EXCEEDS_NODES/wide", "UNDER_REPLICATED/wide/0"}
	if !slices.Equal(issueIDs(got), want) {
		t.Fatalf("got %v, want %v", issueIDs(got), want)
	}
	for _, is := range got {
		if is.Collection != "wide" || is.Description == "" || is.Solution == "" || is.Timestamp.IsZero() {
			t.Fatalf("incomplete issue %+v", is)
		}
	}
	if !strings.Contains(got[0].Description, "replication_factor 4") || !strings.Contains(got[1].Description, "has 3 replicas") {
		t.Fatalf("descriptions: %q / %q", got[0].Description, got[1].Description)
	}
	first := got[0].Timestamp

	// A dead replica, then a shard with no active replica, then a node
	// that left the registry.
	_, m, _ := fc.State.Collection("ok")
	sh := m.Shards[0]
	a, b := sh.Replicas[0].NodeId, sh.Replicas[1].NodeId
	fc.State.SetReplicaState("ok", 0, a, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
	ids := issueIDs(svc.Issues(ctx))
	if !slices.Contains(ids, "REPLICA_NOT_ACTIVE/ok/0/"+itoa(a)) || slices.Contains(ids, "NO_ACTIVE_REPLICA/ok/0") {
		t.Fatalf("one dead replica: %v", ids)
	}
	fc.State.SetReplicaState("ok", 0, b, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
	ids = issueIDs(svc.Issues(ctx))
	if !slices.Contains(ids, "NO_ACTIVE_REPLICA/ok/0") || !slices.Contains(ids, "REPLICA_NOT_ACTIVE/ok/0/"+itoa(b)) {
		t.Fatalf("no active replica: %v", ids)
	}
	fc.State.DeleteNode(a)
	ids = issueIDs(svc.Issues(ctx))
	if !slices.Contains(ids, "REPLICA_ON_UNREGISTERED_NODE/ok/0/"+itoa(a)) {
		t.Fatalf("unregistered node: %v", ids)
	}
	// Fewer normal nodes now: replication 2 still fits on two.
	if slices.Contains(ids, "REPLICATION_FACTOR_EXCEEDS_NODES/ok") {
		t.Fatalf("rf 2 on 2 nodes reported: %v", ids)
	}
	// First-seen time is kept while the condition lasts.
	for _, is := range svc.Issues(ctx) {
		if is.ID == "REPLICATION_FACTOR_EXCEEDS_NODES/wide" && !is.Timestamp.Equal(first) {
			t.Fatalf("timestamp moved: %v → %v", first, is.Timestamp)
		}
	}

	// Meta tier problems.
	raft.info.Leader = 0
	if ids := issueIDs(svc.Issues(ctx)); !slices.Contains(ids, "META_NO_LEADER") {
		t.Fatalf("no leader: %v", ids)
	}
	raft.err = errors.New("connection refused")
	if ids := issueIDs(svc.Issues(ctx)); !slices.Contains(ids, "META_UNREACHABLE") || slices.Contains(ids, "META_NO_LEADER") {
		t.Fatalf("meta down: %v", ids)
	}
}

func TestClearIssuesHidesUntilTheConditionReturns(t *testing.T) {
	ctx := context.Background()
	fc := fake.NewCluster(2)
	raft := &raftStatus{info: service.RaftInfo{Leader: 1}}
	svc := service.New(service.Options{
		NodeID: 9, State: fc.State, Router: routing.New(fc.State, fc.Dialer(), nil), Meta: fc, Consensus: raft, Log: zerolog.Nop(),
	})
	if err := svc.CreateCollection(ctx, service.CreateCollectionRequest{Name: "c", Vectors: map[string]service.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}, ShardNumber: u32(1), ReplicationFactor: u32(2)}); err != nil {
		t.Fatal(err)
	}
	_, m, _ := fc.State.Collection("c")
	node := m.Shards[0].Replicas[1].NodeId
	dead := "REPLICA_NOT_ACTIVE/c/0/" + itoa(node)

	// Cleared without having been reported: clearing evaluates first.
	fc.State.SetReplicaState("c", 0, node, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
	svc.ClearIssues(ctx)
	if got := svc.Issues(ctx); len(got) != 0 {
		t.Fatalf("after clear: %v", issueIDs(got))
	}
	// A new condition is reported although the old one stays cleared.
	raft.info.Leader = 0
	if ids := issueIDs(svc.Issues(ctx)); !slices.Equal(ids, []string{"META_NO_LEADER"}) {
		t.Fatalf("new issue after clear: %v", ids)
	}
	raft.info.Leader = 1
	// The replica recovers, then dies again: reported anew.
	fc.State.SetReplicaState("c", 0, node, shoalv1.ReplicaState_REPLICA_STATE_ACTIVE)
	if got := svc.Issues(ctx); len(got) != 0 {
		t.Fatalf("recovered: %v", issueIDs(got))
	}
	fc.State.SetReplicaState("c", 0, node, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
	if ids := issueIDs(svc.Issues(ctx)); !slices.Equal(ids, []string{dead}) {
		t.Fatalf("recurred: %v", ids)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
