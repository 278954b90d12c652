package service_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

func keys(k ...*shoalv1.ShardKey) *routing.KeySelector { return &routing.KeySelector{Keys: k} }

func linePoints(from, to uint64) []service.PointInput {
	var out []service.PointInput
	for i := from; i <= to; i++ {
		out = append(out, service.PointInput{ID: pointid.Num(i), Vectors: map[string][]float32{"": {float32(i), 0}}})
	}
	return out
}

func hitIDs(hits []service.ScoredPoint) []string {
	var out []string
	for _, h := range hits {
		out = append(out, pointid.String(h.ID))
	}
	slices.Sort(out)
	return out
}

// TestShardKeysRouting writes under two shard keys of a custom collection
// on the fake cluster and checks where the points land and what reads
// restricted to a key see.
func TestShardKeysRouting(t *testing.T) {
	fc := fake.NewCluster(3)
	svc := newService(fc, fc)
	ctx := context.Background()
	err := svc.CreateCollection(ctx, service.CreateCollectionRequest{
		Name: "c", Vectors: map[string]service.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_EUCLID}},
		Extra: map[string]json.RawMessage{"sharding_method": json.RawMessage(`"custom"`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ks, err := svc.ListShardKeys("c"); err != nil || len(ks) != 0 || ks == nil {
		t.Fatalf("new custom collection: keys %v, %v; want an empty list", ks, err)
	}
	a, b := routing.Keyword("a"), routing.Number(2)
	if err := svc.CreateShardKey(ctx, "c", service.CreateShardKeyRequest{Key: a, ShardsNumber: 3}); err != nil {
		t.Fatal(err)
	}
	if err := svc.CreateShardKey(ctx, "c", service.CreateShardKeyRequest{Key: b, Placement: []uint64{2}}); err != nil {
		t.Fatal(err)
	}
	// A key with its own replication factor (2, the collection's is 1) is
	// judged by it: its shards are under-replicated on one node only.
	if err := svc.CreateShardKey(ctx, "c", service.CreateShardKeyRequest{Key: routing.Keyword("wide"), ReplicationFactor: 2, Placement: []uint64{1}}); err != nil {
		t.Fatal(err)
	}
	under := 0
	for _, is := range svc.Issues(ctx) {
		if strings.Contains(is.ID, service.IssueUnderReplicated) {
			under++
		}
	}
	if under != 1 {
		t.Fatalf("%d under-replicated shards reported, want 1 (key wide's)", under)
	}
	if err := svc.DeleteShardKey(ctx, "c", routing.Keyword("wide")); err != nil {
		t.Fatal(err)
	}
	_, m, _ := fc.State.Collection("c")
	if len(m.Shards) != 4 || m.Shards[3].Replicas[0].NodeId != 2 {
		t.Fatalf("shard map %v: want 3 shards for a, 1 for 2 on node 2", m.Shards)
	}

	_, err = svc.Upsert(ctx, "c", service.UpsertRequest{Points: linePoints(1, 30)}, true)
	if apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("upsert without a key: %v, want 400", err)
	}
	if _, err := svc.Upsert(ctx, "c", service.UpsertRequest{Points: linePoints(1, 30), ShardKey: keys(a)}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Upsert(ctx, "c", service.UpsertRequest{Points: linePoints(101, 104), ShardKey: keys(b)}, true); err != nil {
		t.Fatal(err)
	}
	// Key a's 30 points are spread over its 3 shards by the ring; key 2's
	// sit on its one shard (node 2); nothing else holds any.
	uid := m.Uid
	perShard := map[uint32]int{}
	for _, st := range fc.Storage {
		for _, sh := range m.Shards {
			perShard[sh.Id] += st.Points(uid, sh.Id)
		}
	}
	if perShard[0]+perShard[1]+perShard[2] != 30 || perShard[0] == 0 || perShard[1] == 0 || perShard[2] == 0 || perShard[3] != 4 {
		t.Fatalf("points per shard %v: want key a's 30 over shards 0-2, key 2's 4 on shard 3", perShard)
	}

	search := func(sel *routing.KeySelector) []string {
		hits, err := svc.Search(ctx, "c", service.SearchRequest{Vector: []float32{0, 0}, Limit: 100, ShardKey: sel})
		if err != nil {
			t.Fatal(err)
		}
		return hitIDs(hits)
	}
	if got := search(keys(b)); !slices.Equal(got, []string{"101", "102", "103", "104"}) {
		t.Fatalf("search in key 2: %v", got)
	}
	if got := search(nil); len(got) != 34 {
		t.Fatalf("search without a key found %d points, want 34", len(got))
	}
	if got := search(&routing.KeySelector{Keys: []*shoalv1.ShardKey{routing.Keyword("x")}, Fallback: b}); len(got) != 4 {
		t.Fatalf("search with a fallback found %v", got)
	}
	if _, err := svc.Search(ctx, "c", service.SearchRequest{Vector: []float32{0, 0}, Limit: 1, ShardKey: keys(routing.Keyword("2"))}); apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("keyword \"2\" is not the number 2: %v", err)
	}
	recs, err := svc.RetrieveFrom(ctx, "c", keys(a), []*shoalv1.PointID{pointid.Num(1), pointid.Num(101)}, service.ReadOptions{})
	if err != nil || len(recs) != 1 || pointid.String(recs[0].ID) != "1" {
		t.Fatalf("retrieve in key a: %v %v", recs, err)
	}

	if err := svc.DeleteShardKey(ctx, "c", a); err != nil {
		t.Fatal(err)
	}
	if ks, _ := svc.ListShardKeys("c"); len(ks) != 1 || routing.KeyID(ks[0]) != routing.KeyID(b) {
		t.Fatalf("keys after delete: %v", ks)
	}
	if got := search(nil); len(got) != 4 {
		t.Fatalf("search after deleting key a found %v", got)
	}
}

// TestShardKeyOnAutoCollection refuses shard keys where sharding is auto.
func TestShardKeyOnAutoCollection(t *testing.T) {
	fc := fake.NewCluster(2)
	svc := newService(fc, fc)
	ctx := context.Background()
	if err := svc.CreateCollection(ctx, service.CreateCollectionRequest{
		Name: "c", Vectors: map[string]service.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}},
	}); err != nil {
		t.Fatal(err)
	}
	k := routing.Keyword("a")
	if _, err := svc.Upsert(ctx, "c", service.UpsertRequest{Points: linePoints(1, 1), ShardKey: keys(k)}, true); apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("upsert with a key: %v", err)
	}
	if _, err := svc.Count(ctx, "c", service.CountRequest{ShardKey: keys(k)}); apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("count with a key: %v", err)
	}
	if err := svc.CreateShardKey(ctx, "c", service.CreateShardKeyRequest{Key: k}); apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("create key: %v", err)
	}
	if ks, err := svc.ListShardKeys("c"); err != nil || ks != nil {
		t.Fatalf("list keys: %v %v, want nil", ks, err)
	}
}
