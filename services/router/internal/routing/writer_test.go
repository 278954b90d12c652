package routing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// setupPrimary is setup with one shard of rf replicas, write consistency
// factor wcf, and a PrimaryWriter with retry budget budget.
func setupPrimary(t *testing.T, nodes int, rf, wcf uint32, budget time.Duration) (*fake.Cluster, *routing.Router, *routing.Collection) {
	t.Helper()
	return setupWriter(t, nodes, rf, wcf, &routing.PrimaryWriter{Budget: budget})
}

// setupWriter is setupPrimary with a configured writer.
func setupWriter(t *testing.T, nodes int, rf, wcf uint32, w *routing.PrimaryWriter) (*fake.Cluster, *routing.Router, *routing.Collection) {
	t.Helper()
	fc := fake.NewCluster(nodes)
	_, err := fc.Meta("").CreateCollection(context.Background(), connect.NewRequest(&shoalv1.CreateCollectionRequest{
		Name: "c",
		Config: &shoalv1.CollectionConfig{
			Vectors:     map[string]*shoalv1.VectorParams{"": {Size: 4, Distance: shoalv1.Distance_DISTANCE_DOT}},
			ShardNumber: 1, ReplicationFactor: rf, WriteConsistencyFactor: wcf,
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	w.Maps = fc.State
	r := routing.New(fc.State, fc.Dialer(), w)
	w.Replicas = r
	c, err := r.Resolve("c")
	if err != nil {
		t.Fatal(err)
	}
	return fc, r, c
}

func TestWritesGoToThePrimaryWithItsTerm(t *testing.T) {
	fc, r, c := setupPrimary(t, 3, 3, 1, time.Second)
	if c.Map.Shards[0].Primary != 1 {
		t.Fatalf("fake placed the primary on node %d", c.Map.Shards[0].Primary)
	}
	ctx := context.Background()
	if _, err := r.Upsert(ctx, c, points(10), true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delete(ctx, c, []*shoalv1.PointID{pointid.Num(1)}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ApplyAll(ctx, c, &shoalv1.Operation{Kind: &shoalv1.Operation_ClearPayload{ClearPayload: &shoalv1.PointSelector{Ids: []*shoalv1.PointID{pointid.Num(2)}}}}, true); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"Upsert", "DeletePoints", "Update"} {
		if got := []int{fc.Storage[0].Calls(m), fc.Storage[1].Calls(m), fc.Storage[2].Calls(m)}; got[0] != 1 || got[1] != 0 || got[2] != 0 {
			t.Errorf("%s calls per node %v, want only the primary's", m, got)
		}
	}
	// The fake primary refuses a write without its term, so the calls above
	// carried term 1; the followers got the writes from the primary.
	for _, s := range fc.Storage {
		if got := s.Points(c.Meta.Uid, 0); got != 9 {
			t.Errorf("node %d holds %d points, want 9", s.NodeID, got)
		}
	}
}

func TestWriteFollowsANewPrimary(t *testing.T) {
	fc, r, c := setupPrimary(t, 3, 3, 1, 10*time.Second)
	// The router's snapshot c still names node 1 at term 1; node 1 refuses
	// (not-primary) and the writer finds node 2 in the newer map.
	fc.State.SetPrimary("c", 0, 2, 2)
	if _, err := r.Upsert(context.Background(), c, points(4), true); err != nil {
		t.Fatal(err)
	}
	if fc.Storage[0].Calls("Upsert") != 1 || fc.Storage[1].Calls("Upsert") != 1 {
		t.Fatalf("upsert calls: node 1 %d, node 2 %d", fc.Storage[0].Calls("Upsert"), fc.Storage[1].Calls("Upsert"))
	}
	if got := fc.Storage[2].Points(c.Meta.Uid, 0); got != 4 {
		t.Fatalf("follower holds %d points", got)
	}
}

func TestWriteWaitsForFailover(t *testing.T) {
	fc, r, c := setupPrimary(t, 3, 3, 1, time.Minute)
	fc.Storage[0].SetDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Upsert(ctx, c, points(3), true)
		done <- err
	}()
	// The primary is unreachable; the writer keeps asking it until the map
	// moves on.
	if err := fc.Storage[0].WaitCalls(ctx, "Upsert", 2); err != nil {
		t.Fatal(err)
	}
	fc.State.SetReplicaState("c", 0, 1, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
	fc.State.SetPrimary("c", 0, 3, 2)
	if err := <-done; err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	if fc.Storage[2].Calls("Upsert") != 1 || fc.Storage[1].Points(c.Meta.Uid, 0) != 3 {
		t.Fatalf("new primary calls %d, follower points %d", fc.Storage[2].Calls("Upsert"), fc.Storage[1].Points(c.Meta.Uid, 0))
	}
}

func TestWriteGivesUpWithoutAPrimary(t *testing.T) {
	fc, r, c := setupPrimary(t, 2, 2, 1, 200*time.Millisecond)
	fc.Storage[0].SetDown(true)
	_, err := r.Upsert(context.Background(), c, points(1), true)
	if apierr.KindOf(err) != apierr.Unavailable || !strings.HasPrefix(err.Error(), "Service unavailable: no primary for shard 0 of `c`") {
		t.Fatalf("got %v", err)
	}
	if fc.Storage[1].Calls("Upsert") != 0 {
		t.Fatal("a follower was written to directly")
	}
}

func TestWriteStopsAtTheRequestDeadline(t *testing.T) {
	fc, r, c := setupPrimary(t, 2, 2, 1, time.Hour)
	fc.Storage[0].SetDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := r.Upsert(ctx, c, points(1), true)
	if apierr.KindOf(err) != apierr.Unavailable || !strings.Contains(err.Error(), "no primary for shard 0") {
		t.Fatalf("got %v", err)
	}
}

func TestWriteConsistencyRefusalIsRetriedOnce(t *testing.T) {
	fc, r, c := setupPrimary(t, 3, 3, 3, time.Minute)
	fc.Storage[2].SetDown(true)
	_, err := r.Upsert(context.Background(), c, points(2), true)
	if apierr.KindOf(err) != apierr.Unavailable || !strings.Contains(err.Error(), "write consistency factor 3 not met") {
		t.Fatalf("got %v", err)
	}
	if n := fc.Storage[0].Calls("Upsert"); n != 2 {
		t.Fatalf("%d upsert calls, want 2", n)
	}
	// With a newer map the one retry is on it.
	c, _ = r.Resolve("c")
	fc.State.SetReplicaState("c", 0, 3, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
	_, err = r.Upsert(context.Background(), c, points(2), true)
	if apierr.KindOf(err) != apierr.Unavailable || fc.Storage[0].Calls("Upsert") != 4 {
		t.Fatalf("got %v after %d calls", err, fc.Storage[0].Calls("Upsert"))
	}
}

func TestWriteConsistencyRetrySucceedsOnTheNextMap(t *testing.T) {
	// Only a map change ends the pause before the retry.
	fc, r, c := setupWriter(t, 3, 3, 3, &routing.PrimaryWriter{Budget: time.Minute, ConsistencyPause: time.Hour})
	fc.Storage[1].SetDown(true)
	done := make(chan error, 1)
	go func() {
		_, err := r.Upsert(context.Background(), c, points(2), true)
		done <- err
	}()
	if err := fc.Storage[0].WaitCalls(context.Background(), "Upsert", 1); err != nil {
		t.Fatal(err)
	}
	fc.Storage[1].SetDown(false)
	fc.State.SetReplicaState("c", 0, 3, shoalv1.ReplicaState_REPLICA_STATE_ACTIVE) // a new epoch
	if err := <-done; err != nil {
		t.Fatalf("write retried after the followers came back: %v", err)
	}
}

func TestWriteRateLimitIsTooManyRequests(t *testing.T) {
	fc, r, c := setupPrimary(t, 2, 2, 1, time.Minute)
	fc.Storage[0].SetRateLimited(true)
	_, err := r.Upsert(context.Background(), c, points(2), true)
	if apierr.KindOf(err) != apierr.TooManyRequests || !strings.HasPrefix(err.Error(), "Rate limiting exceeded: ") {
		t.Fatalf("got %v", err)
	}
	if n := fc.Storage[0].Calls("Upsert"); n != 1 {
		t.Fatalf("%d upsert calls, want 1", n)
	}
	if code := apierr.ToConnect(err).Code(); code != connect.CodeResourceExhausted {
		t.Fatalf("gRPC code %v", code)
	}
}

func TestWriteOnAMissingPointIsNotFound(t *testing.T) {
	fc, r, c := setupPrimary(t, 2, 2, 1, time.Minute)
	op := &shoalv1.Operation{Kind: &shoalv1.Operation_UpdateVectors{UpdateVectors: &shoalv1.UpdateVectors{Points: []*shoalv1.PointVectors{
		{Id: pointid.Num(7), Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{1, 2, 3, 4}}}},
	}}}}
	_, err := r.ApplyAll(context.Background(), c, op, true)
	if apierr.KindOf(err) != apierr.NotFound || !strings.Contains(err.Error(), "No point with id 7 found") {
		t.Fatalf("got %v", err)
	}
	if n := fc.Storage[0].Calls("Update"); n != 1 {
		t.Fatalf("%d update calls, want 1", n)
	}
}

func TestWriteToADeletedCollection(t *testing.T) {
	fc, r, c := setupPrimary(t, 2, 2, 1, time.Minute)
	fc.Storage[0].SetDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Upsert(ctx, c, points(1), true)
		done <- err
	}()
	if err := fc.Storage[0].WaitCalls(ctx, "Upsert", 1); err != nil {
		t.Fatal(err)
	}
	fc.State.DeleteCollection("c")
	if err := <-done; apierr.KindOf(err) != apierr.NotFound {
		t.Fatalf("got %v", err)
	}
}

func TestWriteLeavesAHungPrimaryForTheNewOne(t *testing.T) {
	fc, r, c := setupPrimary(t, 3, 3, 1, time.Minute)
	fc.Storage[0].SetHang(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Upsert(ctx, c, points(2), true)
		done <- err
	}()
	if err := fc.Storage[0].WaitCalls(ctx, "Upsert", 1); err != nil {
		t.Fatal(err)
	}
	// The failover names node 2; the hung call is abandoned for it, long
	// before the request's deadline.
	fc.State.SetPrimary("c", 0, 2, 2)
	if err := <-done; err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	if ctx.Err() != nil || fc.Storage[1].Calls("Upsert") != 1 || fc.Storage[2].Points(c.Meta.Uid, 0) != 2 {
		t.Fatalf("new primary calls %d, follower points %d, ctx %v", fc.Storage[1].Calls("Upsert"), fc.Storage[2].Points(c.Meta.Uid, 0), ctx.Err())
	}
}

func TestWriteWithoutALeaseGivesUpAfterItsBudget(t *testing.T) {
	fc, r, c := setupPrimary(t, 2, 2, 1, time.Minute)
	fc.Storage[0].SetNoLease(true)
	_, err := r.Upsert(context.Background(), c, points(2), true)
	// The storage's refusal is the answer (not the retry budget's "no
	// primary" one), after retries: the lease may have come back.
	if apierr.KindOf(err) != apierr.Unavailable || !strings.HasPrefix(err.Error(), "Service unavailable: storage node 1 cannot confirm its lease") {
		t.Fatalf("got %v", err)
	}
	if n := fc.Storage[0].Calls("Upsert"); n < 2 {
		t.Fatalf("%d upsert calls, want retries", n)
	}
}
