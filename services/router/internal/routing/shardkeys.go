package routing

import (
	"slices"
	"strconv"

	"github.com/shoaldb/shoal/pkg/hashring"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// KeySelector is a request's shard_key: one or more shard keys of a
// collection with custom sharding, or a target key with a fallback used
// when the target does not exist.
type KeySelector struct {
	Keys []*shoalv1.ShardKey
	// Fallback, when set, stands in for Keys[0] (the only key) if that key
	// does not exist.
	Fallback *shoalv1.ShardKey
}

// Empty reports whether the selector selects nothing (no shard_key).
func (s *KeySelector) Empty() bool { return s == nil || len(s.Keys) == 0 }

// Keyword returns a keyword shard key.
func Keyword(k string) *shoalv1.ShardKey {
	return &shoalv1.ShardKey{Key: &shoalv1.ShardKey_Keyword{Keyword: k}}
}

// Number returns a numeric shard key.
func Number(n uint64) *shoalv1.ShardKey {
	return &shoalv1.ShardKey{Key: &shoalv1.ShardKey_Number{Number: n}}
}

// KeyID is a shard key's identity for maps: a keyword and a number with
// the same digits differ.
func KeyID(k *shoalv1.ShardKey) string {
	if kw, ok := k.GetKey().(*shoalv1.ShardKey_Keyword); ok {
		return "k:" + kw.Keyword
	}
	return "n:" + strconv.FormatUint(k.GetNumber(), 10)
}

// KeyString renders a shard key as messages show it: a keyword quoted, a
// number as is.
func KeyString(k *shoalv1.ShardKey) string {
	if kw, ok := k.GetKey().(*shoalv1.ShardKey_Keyword); ok {
		return strconv.Quote(kw.Keyword)
	}
	return strconv.FormatUint(k.GetNumber(), 10)
}

// keyShards is one shard key's shards in a snapshot: their ids ascending
// and the ring over their count that places a point on one of them.
type keyShards struct {
	ids  []uint32
	ring *hashring.Ring
}

// Custom reports whether the collection uses custom sharding.
func (c *Collection) Custom() bool {
	return c.Meta.GetConfig().GetShardingMethod() == shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM
}

// Keys returns the collection's shard keys in the order their first shard
// appears in the map (creation order).
func (c *Collection) Keys() []*shoalv1.ShardKey {
	var out []*shoalv1.ShardKey
	seen := map[string]bool{}
	for _, sh := range c.Map.GetShards() {
		if k := sh.GetKey(); k != nil && !seen[KeyID(k)] {
			seen[KeyID(k)] = true
			out = append(out, k)
		}
	}
	return out
}

// Select returns the snapshot restricted to the shards of the selected
// keys: reads fan out to those shards only, and writes place each point
// on one shard of every selected key, by the consistent hash ring over
// that key's shard count. An empty selector returns c unchanged (for a
// custom collection, every shard). A selector on a collection with auto
// sharding, or naming a key that does not exist (and whose fallback does
// not either), is a 400.
func (c *Collection) Select(sel *KeySelector) (*Collection, error) {
	if sel.Empty() {
		return c, nil
	}
	if !c.Custom() {
		return nil, apierr.New(apierr.BadRequest,
			"Bad request: Shard key specified for collection `%s`, but its sharding_method is `auto`; shard_key is only allowed with sharding_method `custom`", c.Name())
	}
	byKey := map[string]*keyShards{}
	for _, sh := range c.Map.GetShards() {
		if k := sh.GetKey(); k != nil {
			ks := byKey[KeyID(k)]
			if ks == nil {
				ks = &keyShards{}
				byKey[KeyID(k)] = ks
			}
			ks.ids = append(ks.ids, sh.GetId())
		}
	}
	keys := sel.Keys
	if sel.Fallback != nil && len(keys) == 1 && byKey[KeyID(keys[0])] == nil {
		keys = []*shoalv1.ShardKey{sel.Fallback}
	}
	out := &Collection{Meta: c.Meta, fetched: c.fetched}
	m := &shoalv1.ShardMap{Collection: c.Map.GetCollection(), Uid: c.Map.GetUid(), Epoch: c.Map.GetEpoch(), NextShardId: c.Map.GetNextShardId()}
	picked := map[string]bool{}
	for _, k := range keys {
		id := KeyID(k)
		ks := byKey[id]
		if ks == nil {
			return nil, apierr.New(apierr.BadRequest, "Bad request: Shard key %s does not exist in collection `%s`", KeyString(k), c.Name())
		}
		if picked[id] {
			continue
		}
		picked[id] = true
		slices.Sort(ks.ids)
		ks.ring = hashring.ForCount(uint32(len(ks.ids)))
		out.selected = append(out.selected, ks)
	}
	for _, sh := range c.Map.GetShards() {
		if k := sh.GetKey(); k != nil && picked[KeyID(k)] {
			m.Shards = append(m.Shards, sh)
		}
	}
	out.Map = m
	return out, nil
}

// Writable checks that a write placing points by id may go to c: a custom
// collection needs a shard key, since the key decides where a new point
// lives.
func (c *Collection) Writable() error {
	if c.Custom() && len(c.selected) == 0 {
		return apierr.New(apierr.BadRequest,
			"Bad request: Shard key is required to write points into collection `%s`, whose sharding_method is `custom`", c.Name())
	}
	return nil
}

// ShardsOf returns the shards that hold (or receive) point id: its one
// shard by the collection's ring with auto sharding; with custom sharding
// one shard of every selected key, or every shard of the collection when
// no key is selected (the point may be under any key).
func (c *Collection) ShardsOf(id *shoalv1.PointID) []uint32 {
	if !c.Custom() {
		if c.ring == nil {
			return nil
		}
		return []uint32{c.ring.Shard(id)}
	}
	if len(c.selected) == 0 {
		out := make([]uint32, 0, len(c.Map.GetShards()))
		for _, sh := range c.Map.GetShards() {
			out = append(out, sh.GetId())
		}
		return out
	}
	out := make([]uint32, 0, len(c.selected))
	for _, ks := range c.selected {
		out = append(out, ks.ids[ks.ring.Shard(id)])
	}
	return out
}
