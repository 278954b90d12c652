package routing_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/hashring"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// setup returns a fake cluster of nodes storage nodes with collection "c"
// (4-dim vectors of the given distance) and a router over it.
func setup(t *testing.T, nodes int, shards, rf uint32, d shoalv1.Distance) (*fake.Cluster, *routing.Router, *routing.Collection) {
	t.Helper()
	fc := fake.NewCluster(nodes)
	_, err := fc.Meta("").CreateCollection(context.Background(), connect.NewRequest(&shoalv1.CreateCollectionRequest{
		Name: "c",
		Config: &shoalv1.CollectionConfig{
			Vectors:     map[string]*shoalv1.VectorParams{"": {Size: 4, Distance: d}},
			ShardNumber: shards, ReplicationFactor: rf, WriteConsistencyFactor: 1,
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := routing.New(fc.State, fc.Dialer(), nil)
	c, err := r.Resolve("c")
	if err != nil {
		t.Fatal(err)
	}
	return fc, r, c
}

func point(id uint64) *shoalv1.Point {
	x := float32(id)
	return &shoalv1.Point{Id: pointid.Num(id), Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{x, 1, x / 2, -x}}}}
}

func points(n int) []*shoalv1.Point {
	out := make([]*shoalv1.Point, n)
	for i := range out {
		out[i] = point(uint64(i + 1))
	}
	return out
}

func TestResolveUnknown(t *testing.T) {
	_, r, _ := setup(t, 1, 1, 1, shoalv1.Distance_DISTANCE_DOT)
	_, err := r.Resolve("nope")
	if apierr.KindOf(err) != apierr.NotFound || err.Error() != "Not found: Collection `nope` doesn't exist!" {
		t.Fatalf("got %v", err)
	}
}

func TestUpsertPlacesPointsOnEveryReplicaOfTheirShard(t *testing.T) {
	fc, r, c := setup(t, 3, 3, 2, shoalv1.Distance_DISTANCE_DOT)
	res, err := r.Upsert(context.Background(), c, points(90), true)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Completed || res.OperationID == 0 {
		t.Fatalf("result %+v", res)
	}
	perShard := map[uint32]int{}
	for i := 1; i <= 90; i++ {
		perShard[hashring.ForCount(3).Shard(pointid.Num(uint64(i)))]++
	}
	for _, sh := range c.Map.Shards {
		for _, rep := range sh.Replicas {
			if got := fc.Storage[rep.NodeId-1].Points(c.Meta.Uid, sh.Id); got != perShard[sh.Id] {
				t.Errorf("shard %d on node %d holds %d points, want %d", sh.Id, rep.NodeId, got, perShard[sh.Id])
			}
		}
	}
	res, err = r.Upsert(context.Background(), c, points(1), false)
	if err != nil || res.Completed {
		t.Fatalf("wait=false: %+v, %v", res, err)
	}
}

func TestReadRetriesAnotherReplica(t *testing.T) {
	fc, r, c := setup(t, 2, 1, 2, shoalv1.Distance_DISTANCE_DOT)
	ctx := context.Background()
	if _, err := r.Upsert(ctx, c, points(5), true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if n, err := r.Count(ctx, c, nil); err != nil || n != 5 {
			t.Fatalf("count: %d, %v", n, err)
		}
	}
	if fc.Storage[0].Calls("Count") == 0 || fc.Storage[1].Calls("Count") == 0 {
		t.Fatalf("reads not spread: %d and %d", fc.Storage[0].Calls("Count"), fc.Storage[1].Calls("Count"))
	}

	fc.Storage[0].SetDown(true)
	for i := 0; i < 4; i++ {
		if n, err := r.Count(ctx, c, nil); err != nil || n != 5 {
			t.Fatalf("count with one replica down: %d, %v", n, err)
		}
	}
	fc.State.DeleteNode(2) // lease expired: not registered, yet still ACTIVE in the map
	_, err := r.Count(ctx, c, nil)
	if apierr.KindOf(err) != apierr.Unavailable || !strings.Contains(err.Error(), "shard 0") {
		t.Fatalf("count with no replica reachable: %v", err)
	}
}

func TestReadNeedsAnActiveReplica(t *testing.T) {
	fc, r, _ := setup(t, 2, 2, 2, shoalv1.Distance_DISTANCE_DOT)
	for _, st := range []shoalv1.ReplicaState{shoalv1.ReplicaState_REPLICA_STATE_PARTIAL, shoalv1.ReplicaState_REPLICA_STATE_LISTENER} {
		fc.State.SetReplicaState("c", 1, 1, st)
		fc.State.SetReplicaState("c", 1, 2, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
		c, _ := r.Resolve("c")
		_, err := r.Count(context.Background(), c, nil)
		if apierr.KindOf(err) != apierr.Unavailable || err.Error() != "Service unavailable: No active replica for shard 1" {
			t.Fatalf("%v: got %v", st, err)
		}
	}
}

func TestReadStopsOnRequestErrors(t *testing.T) {
	fc, r, c := setup(t, 2, 1, 2, shoalv1.Distance_DISTANCE_DOT)
	// The fake storage rejects an unknown vector name with InvalidArgument:
	// that is the request's fault, and no other replica is asked.
	_, err := r.Search(context.Background(), c, routing.SearchParams{Using: "other", Vector: []float32{1, 2, 3, 4}, Limit: 3})
	if apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("got %v", err)
	}
	if calls := fc.Storage[0].Calls("Search") + fc.Storage[1].Calls("Search"); calls != 1 {
		t.Fatalf("%d search calls, want 1", calls)
	}
}

func TestGetKeepsRequestOrder(t *testing.T) {
	_, r, c := setup(t, 3, 3, 1, shoalv1.Distance_DISTANCE_DOT)
	ctx := context.Background()
	if _, err := r.Upsert(ctx, c, points(20), true); err != nil {
		t.Fatal(err)
	}
	ids := []*shoalv1.PointID{pointid.Num(17), pointid.Num(99), pointid.Num(3), pointid.Num(17), pointid.Num(8)}
	got, err := r.Get(ctx, c, ids, routing.ReadOptions{WithVector: &shoalv1.WithVector{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, pointid.String(p.Id))
		if len(p.Vectors[""].GetData()) != 4 {
			t.Errorf("point %s without its vector", pointid.String(p.Id))
		}
	}
	if strings.Join(s, " ") != "17 3 8" {
		t.Fatalf("got %v", s)
	}
}

func TestSearchMatchesBruteForce(t *testing.T) {
	for _, d := range []shoalv1.Distance{shoalv1.Distance_DISTANCE_COSINE, shoalv1.Distance_DISTANCE_DOT, shoalv1.Distance_DISTANCE_EUCLID, shoalv1.Distance_DISTANCE_MANHATTAN} {
		t.Run(d.String(), func(t *testing.T) {
			_, r, c := setup(t, 3, 4, 1, d)
			ctx := context.Background()
			pts := points(60)
			if _, err := r.Upsert(ctx, c, pts, true); err != nil {
				t.Fatal(err)
			}
			q := []float32{3, 1, -2, 0.5}
			type hit struct {
				id    uint64
				score float32
			}
			var want []hit
			for _, p := range pts {
				want = append(want, hit{p.Id.GetNum(), fake.Score(d, q, p.Vectors[""].Data)})
			}
			higher := routing.HigherIsBetter(d)
			sort.Slice(want, func(i, j int) bool {
				if want[i].score != want[j].score {
					return (want[i].score > want[j].score) == higher
				}
				return want[i].id < want[j].id
			})
			got, err := r.Search(ctx, c, routing.SearchParams{Vector: q, Offset: 5, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 10 {
				t.Fatalf("%d hits", len(got))
			}
			for i, h := range got {
				if w := want[5+i]; h.Point.Id.GetNum() != w.id || h.Score != w.score {
					t.Fatalf("hit %d: got %d (%v), want %d (%v)", i, h.Point.Id.GetNum(), h.Score, w.id, w.score)
				}
			}
		})
	}
}

func TestScrollPagesThroughEveryPoint(t *testing.T) {
	_, r, c := setup(t, 3, 3, 1, shoalv1.Distance_DISTANCE_DOT)
	ctx := context.Background()
	if _, err := r.Upsert(ctx, c, points(50), true); err != nil {
		t.Fatal(err)
	}
	var seen []string
	var offset *shoalv1.PointID
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("scroll does not end")
		}
		page, next, err := r.Scroll(ctx, c, routing.ScrollParams{Offset: offset, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			seen = append(seen, pointid.String(p.Id))
		}
		if next == nil {
			break
		}
		offset = next
	}
	var want []string
	for i := 1; i <= 50; i++ {
		want = append(want, fmt.Sprint(i))
	}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("scrolled %v", seen)
	}
}
