// Package hashring maps point ids to shards with a consistent hash ring:
// every shard owns 100 virtual nodes placed by SipHash-2-4, and a point
// belongs to the first virtual node at or after its own hash. Adding a
// shard moves only the points that land on the new shard's nodes.
//
// This is the one place that decides point placement; router, meta and
// storage all call it.
package hashring

import (
	"encoding/binary"
	"sort"
	"sync"

	"github.com/dchest/siphash"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// VirtualNodes is the number of ring positions per shard.
const VirtualNodes = 100

// Ring is an immutable hash ring over a set of shard ids. It is safe for
// concurrent use.
type Ring struct {
	hashes []uint64
	shards []uint32
}

// New builds a ring over the given shard ids.
func New(shardIDs []uint32) *Ring {
	type vnode struct {
		hash  uint64
		shard uint32
	}
	nodes := make([]vnode, 0, len(shardIDs)*VirtualNodes)
	var buf [8]byte
	for _, s := range shardIDs {
		for i := 0; i < VirtualNodes; i++ {
			binary.LittleEndian.PutUint32(buf[:4], s)
			binary.LittleEndian.PutUint32(buf[4:], uint32(i))
			nodes = append(nodes, vnode{hash: siphash.Hash(0, 0, buf[:]), shard: s})
		}
	}
	sort.Slice(nodes, func(i, j int) bool {
		if nodes[i].hash != nodes[j].hash {
			return nodes[i].hash < nodes[j].hash
		}
		return nodes[i].shard < nodes[j].shard
	})
	r := &Ring{hashes: make([]uint64, len(nodes)), shards: make([]uint32, len(nodes))}
	for i, n := range nodes {
		r.hashes[i], r.shards[i] = n.hash, n.shard
	}
	return r
}

// Shard returns the shard that owns id. It panics on an empty ring.
func (r *Ring) Shard(id *shoalv1.PointID) uint32 {
	h := siphash.Hash(0, 0, pointid.Key(id))
	i := sort.Search(len(r.hashes), func(i int) bool { return r.hashes[i] >= h })
	if i == len(r.hashes) {
		i = 0
	}
	return r.shards[i]
}

var cache sync.Map // shard count -> *Ring

// ForCount returns the (cached) ring over shards 0..n-1.
func ForCount(n uint32) *Ring {
	if r, ok := cache.Load(n); ok {
		return r.(*Ring)
	}
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	r, _ := cache.LoadOrStore(n, New(ids))
	return r.(*Ring)
}
