package routing

import (
	"slices"
	"testing"

	"github.com/shoaldb/shoal/pkg/hashring"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

func customCollection() *Collection {
	meta := &shoalv1.Collection{Name: "c", Uid: "u", Config: &shoalv1.CollectionConfig{ShardNumber: 1, ShardingMethod: shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM}}
	m := &shoalv1.ShardMap{Collection: "c", Uid: "u", Epoch: 3, Shards: []*shoalv1.Shard{
		{Id: 5, Key: Keyword("a")}, {Id: 4, Key: Number(9)}, {Id: 3, Key: Keyword("a")},
	}}
	return NewCollection(meta, m)
}

func TestSelectShardKeys(t *testing.T) {
	c := customCollection()
	if got := c.Keys(); len(got) != 2 || KeyID(got[0]) != "k:a" || KeyID(got[1]) != "n:9" {
		t.Fatalf("keys %v", got)
	}
	// No key: every shard, and a point may be on any of them.
	if all, _ := c.Select(nil); all != c || !slices.Equal(c.ShardsOf(pointid.Num(1)), []uint32{5, 4, 3}) {
		t.Fatalf("unselected custom collection: shards of a point %v", c.ShardsOf(pointid.Num(1)))
	}
	if err := c.Writable(); apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("write without a key: %v", err)
	}

	a, err := c.Select(&KeySelector{Keys: []*shoalv1.ShardKey{Keyword("a")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Map.Shards) != 2 || a.Map.Epoch != 3 || len(c.Map.Shards) != 3 || a.Writable() != nil {
		t.Fatalf("selected map %v (original keeps %d shards)", a.Map.Shards, len(c.Map.Shards))
	}
	// A point goes to the key's shards in id order by the ring over their
	// count: the same placement an auto collection of 2 shards would use.
	ring := hashring.ForCount(2)
	for i := uint64(0); i < 200; i++ {
		id := pointid.Num(i)
		want := []uint32{3, 5}[ring.Shard(id)]
		if got := a.ShardsOf(id); len(got) != 1 || got[0] != want {
			t.Fatalf("point %d: shards %v, want [%d]", i, got, want)
		}
	}
	// Two keys: one shard of each.
	both, err := c.Select(&KeySelector{Keys: []*shoalv1.ShardKey{Keyword("a"), Number(9), Keyword("a")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := both.ShardsOf(pointid.Num(7)); len(got) != 2 || got[1] != 4 || len(both.Map.Shards) != 3 {
		t.Fatalf("two keys: shards of a point %v, map %v", got, both.Map.Shards)
	}
	// A fallback is used only when the target does not exist.
	fb, err := c.Select(&KeySelector{Keys: []*shoalv1.ShardKey{Keyword("zz")}, Fallback: Number(9)})
	if err != nil || len(fb.Map.Shards) != 1 || fb.Map.Shards[0].Id != 4 {
		t.Fatalf("fallback: %v %v", fb, err)
	}
	tg, err := c.Select(&KeySelector{Keys: []*shoalv1.ShardKey{Keyword("a")}, Fallback: Number(9)})
	if err != nil || len(tg.Map.Shards) != 2 {
		t.Fatalf("existing target with a fallback: %v %v", tg, err)
	}
	if _, err := c.Select(&KeySelector{Keys: []*shoalv1.ShardKey{Keyword("9")}}); apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("keyword \"9\" selected number 9: %v", err)
	}

	auto := NewCollection(&shoalv1.Collection{Name: "x", Config: &shoalv1.CollectionConfig{ShardNumber: 2}}, &shoalv1.ShardMap{Shards: []*shoalv1.Shard{{Id: 0}, {Id: 1}}})
	if _, err := auto.Select(&KeySelector{Keys: []*shoalv1.ShardKey{Number(1)}}); apierr.KindOf(err) != apierr.BadRequest {
		t.Fatalf("key on an auto collection: %v", err)
	}
	if got := auto.ShardsOf(pointid.Num(3)); len(got) != 1 || got[0] != ring.Shard(pointid.Num(3)) {
		t.Fatalf("auto placement %v", got)
	}
}
