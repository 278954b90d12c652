package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"google.golang.org/grpc/codes"
)

// TestShardKeysOfficialClient drives custom sharding through the official
// client: create the collection and two keys, upsert under each, count and
// scroll per key, list and delete keys, and see the keys in cluster info.
func TestShardKeysOfficialClient(t *testing.T) {
	cl, _, _ := serve(t, apikey.Keys{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cl.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "c", ShardingMethod: qdrant.ShardingMethod_Custom.Enum(),
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot}),
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cl.GetCollectionInfo(ctx, "c")
	if err != nil || info.GetConfig().GetParams().GetShardingMethod() != qdrant.ShardingMethod_Custom {
		t.Fatalf("collection info sharding method: %v %v", info.GetConfig().GetParams().GetShardingMethod(), err)
	}
	if err := cl.CreateShardKey(ctx, "c", &qdrant.CreateShardKey{ShardKey: qdrant.NewShardKey("a"), ShardsNumber: qdrant.PtrOf(uint32(2))}); err != nil {
		t.Fatal(err)
	}
	if err := cl.CreateShardKey(ctx, "c", &qdrant.CreateShardKey{ShardKey: qdrant.NewShardKeyNum(5)}); err != nil {
		t.Fatal(err)
	}
	keys, err := cl.ListShardKeys(ctx, "c")
	if err != nil || len(keys) != 2 || keys[0].GetKey().GetKeyword() != "a" || keys[1].GetKey().GetNumber() != 5 {
		t.Fatalf("list shard keys: %v %v", keys, err)
	}
	point := func(id uint64) *qdrant.PointStruct {
		return &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Vectors: qdrant.NewVectors(1, float32(id))}
	}
	_, err = cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: qdrant.PtrOf(true), Points: []*qdrant.PointStruct{point(1)}})
	if code(err) != codes.InvalidArgument {
		t.Fatalf("upsert without a shard key: %v", err)
	}
	upsert := func(key *qdrant.ShardKey, ids ...uint64) {
		t.Helper()
		var pts []*qdrant.PointStruct
		for _, id := range ids {
			pts = append(pts, point(id))
		}
		_, err := cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: qdrant.PtrOf(true), Points: pts,
			ShardKeySelector: &qdrant.ShardKeySelector{ShardKeys: []*qdrant.ShardKey{key}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	upsert(qdrant.NewShardKey("a"), 1, 2, 3, 4, 5, 6)
	upsert(qdrant.NewShardKeyNum(5), 10, 11)
	count := func(sel *qdrant.ShardKeySelector) uint64 {
		t.Helper()
		n, err := cl.Count(ctx, &qdrant.CountPoints{CollectionName: "c", Exact: qdrant.PtrOf(true), ShardKeySelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	five := &qdrant.ShardKeySelector{ShardKeys: []*qdrant.ShardKey{qdrant.NewShardKeyNum(5)}}
	if a, b, all := count(&qdrant.ShardKeySelector{ShardKeys: []*qdrant.ShardKey{qdrant.NewShardKey("a")}}), count(five), count(nil); a != 6 || b != 2 || all != 8 {
		t.Fatalf("counts a %d, 5 %d, all %d; want 6, 2, 8", a, b, all)
	}
	page, err := cl.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: "c", ShardKeySelector: five})
	if err != nil || len(page) != 2 || page[0].GetId().GetNum() != 10 || page[1].GetId().GetNum() != 11 {
		t.Fatalf("scroll in key 5: %v %v", page, err)
	}
	ci, err := cl.GetCollectionsClient().CollectionClusterInfo(ctx, &qdrant.CollectionClusterInfoRequest{CollectionName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]int{}
	for _, r := range ci.GetRemoteShards() {
		byKey[r.GetShardKey().String()]++
	}
	if len(ci.GetRemoteShards()) != 3 || byKey[qdrant.NewShardKey("a").String()] != 2 || byKey[qdrant.NewShardKeyNum(5).String()] != 1 {
		t.Fatalf("cluster info remote shards by key %v", byKey)
	}

	if err := cl.DeleteShardKey(ctx, "c", &qdrant.DeleteShardKey{ShardKey: qdrant.NewShardKey("a")}); err != nil {
		t.Fatal(err)
	}
	if n := count(nil); n != 2 {
		t.Fatalf("count after deleting key a: %d", n)
	}
	err = cl.DeleteShardKey(ctx, "c", &qdrant.DeleteShardKey{ShardKey: qdrant.NewShardKey("a")})
	if code(err) != codes.InvalidArgument {
		t.Fatalf("delete a missing key: %v", err)
	}
	_, err = cl.Count(ctx, &qdrant.CountPoints{CollectionName: "c", ShardKeySelector: &qdrant.ShardKeySelector{ShardKeys: []*qdrant.ShardKey{qdrant.NewShardKey("a")}}})
	if code(err) != codes.InvalidArgument {
		t.Fatalf("count in a deleted key: %v", err)
	}
}
