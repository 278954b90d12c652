package catalog

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
)

func keyword(k string) *shoalv1.ShardKey {
	return &shoalv1.ShardKey{Key: &shoalv1.ShardKey_Keyword{Keyword: k}}
}

func number(n uint64) *shoalv1.ShardKey {
	return &shoalv1.ShardKey{Key: &shoalv1.ShardKey_Number{Number: n}}
}

func keyReq(coll string, key *shoalv1.ShardKey, shards, rf uint32, placement ...uint64) *connect.Request[shoalv1.CreateShardKeyRequest] {
	return connect.NewRequest(&shoalv1.CreateShardKeyRequest{Collection: coll, Key: key, ShardsNumber: shards, ReplicationFactor: rf, Placement: placement})
}

// shardsOf returns the shards of m with key k.
func shardsOf(m *shoalv1.ShardMap, k *shoalv1.ShardKey) []*shoalv1.Shard {
	var out []*shoalv1.Shard
	for _, sh := range m.Shards {
		if SameKey(sh.Key, k) {
			out = append(out, sh)
		}
	}
	return out
}

// TestShardKeys creates a custom-sharded collection (no shards), adds two
// keys (placed, activated, with fresh ids), refuses a duplicate, deletes
// one and checks ids are not reused when a key is created again.
func TestShardKeys(t *testing.T) {
	cli := startEtcd(t)
	svc := New(cli, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, testutil.Logger(t))
	ctx := context.Background()
	for id := uint64(1); id <= 3; id++ {
		registerStorage(t, cli, id, shoalv1.NodeType_NODE_TYPE_NORMAL)
	}
	startFakeStorage(t, cli)

	cfg := unnamed(4)
	cfg.ShardingMethod, cfg.ReplicationFactor = shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM, 2
	created, err := svc.CreateCollection(ctx, connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: "c", Config: cfg}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(created.Msg.ShardMap.Shards); n != 0 || created.Msg.Collection.Config.ShardNumber != 1 {
		t.Fatalf("custom collection has %d shards and shard_number %d; want 0 and 1", n, created.Msg.Collection.Config.ShardNumber)
	}

	a, err := svc.CreateShardKey(ctx, keyReq("c", keyword("a"), 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	seven, err := svc.CreateShardKey(ctx, keyReq("c", number(7), 0, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	m := seven.Msg.ShardMap
	if got := shardsOf(a.Msg.ShardMap, keyword("a")); len(got) != 2 || got[0].Id != 0 || got[1].Id != 1 {
		t.Fatalf("key a shards %v, want ids 0 and 1", got)
	}
	for _, sh := range shardsOf(m, keyword("a")) {
		if len(sh.Replicas) != 2 || sh.Replicas[0].NodeId == sh.Replicas[1].NodeId {
			t.Fatalf("key a shard %d replicas %v: want 2 on distinct nodes (the collection's replication factor)", sh.Id, sh.Replicas)
		}
	}
	got := shardsOf(m, number(7))
	if len(got) != 1 || got[0].Id != 2 || len(got[0].Replicas) != 1 || got[0].Replicas[0].NodeId != 3 || got[0].Primary != 3 || got[0].Term != 1 {
		t.Fatalf("key 7 shards %v: want shard 2 with one replica on placement node 3, its primary at term 1", got)
	}
	// The key's own replication factor is kept where it differs from the
	// collection's, so that the shard is not reported under-replicated.
	if got[0].ReplicationFactor != 1 || shardsOf(m, keyword("a"))[0].ReplicationFactor != 0 {
		t.Fatalf("replication factors: key 7 %d, key a %d; want 1 and 0 (the collection's)", got[0].ReplicationFactor, shardsOf(m, keyword("a"))[0].ReplicationFactor)
	}
	// A keyword and a number with the same digits are different keys.
	if len(shardsOf(m, keyword("7"))) != 0 {
		t.Fatal("keyword \"7\" matches number 7")
	}
	for _, sh := range m.Shards {
		for _, r := range sh.Replicas {
			if r.State != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
				t.Fatalf("shard %d replica %v not activated", sh.Id, r)
			}
		}
	}

	_, err = svc.CreateShardKey(ctx, keyReq("c", number(7), 0, 0))
	wantCode(t, err, connect.CodeInvalidArgument, "Shard key 7 already exists")
	_, err = svc.CreateShardKey(ctx, keyReq("c", keyword("b"), 0, 0, 42))
	wantCode(t, err, connect.CodeInvalidArgument, "peer 42 is not a registered storage node")
	_, err = svc.CreateShardKey(ctx, keyReq("c", keyword(""), 0, 0))
	wantCode(t, err, connect.CodeInvalidArgument, "shard_key: must not be empty")
	_, err = svc.CreateShardKey(ctx, keyReq("nope", keyword("a"), 0, 0))
	wantCode(t, err, connect.CodeNotFound, "Collection `nope` doesn't exist")

	if _, err := svc.DeleteShardKey(ctx, connect.NewRequest(&shoalv1.DeleteShardKeyRequest{Collection: "c", Key: keyword("a")})); err != nil {
		t.Fatal(err)
	}
	after := storedMap(t, cli, "c")
	if len(shardsOf(after, keyword("a"))) != 0 || len(after.Shards) != 1 || after.Epoch <= m.Epoch {
		t.Fatalf("map after deleting key a: %v", after)
	}
	_, err = svc.DeleteShardKey(ctx, connect.NewRequest(&shoalv1.DeleteShardKeyRequest{Collection: "c", Key: keyword("a")}))
	wantCode(t, err, connect.CodeInvalidArgument, "Shard key \"a\" does not exist")

	// Deleted shards' ids are never reused: a storage node may still hold
	// their replicas.
	again, err := svc.CreateShardKey(ctx, keyReq("c", keyword("a"), 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := shardsOf(again.Msg.ShardMap, keyword("a")); len(got) != 1 || got[0].Id != 3 {
		t.Fatalf("re-created key a shards %v, want the new id 3", got)
	}
}

// TestShardKeysNeedCustomSharding refuses shard keys on an auto-sharded
// collection.
func TestShardKeysNeedCustomSharding(t *testing.T) {
	cli := startEtcd(t)
	svc := New(cli, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, testutil.Logger(t))
	ctx := context.Background()
	registerStorage(t, cli, 1, shoalv1.NodeType_NODE_TYPE_NORMAL)
	startFakeStorage(t, cli)
	if _, err := svc.CreateCollection(ctx, createReq("auto", 1, 1)); err != nil {
		t.Fatal(err)
	}
	_, err := svc.CreateShardKey(ctx, keyReq("auto", keyword("a"), 0, 0))
	wantCode(t, err, connect.CodeInvalidArgument, "sharding_method `custom`")
	_, err = svc.DeleteShardKey(ctx, connect.NewRequest(&shoalv1.DeleteShardKeyRequest{Collection: "auto", Key: keyword("a")}))
	wantCode(t, err, connect.CodeInvalidArgument, "sharding_method `custom`")
}
