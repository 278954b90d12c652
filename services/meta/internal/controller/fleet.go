package controller

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// record is one transfer record as read from etcd.
type record struct {
	key string
	rev int64
	t   *shoalv1.ShardTransfer
}

// fleet is one pass's copy of the collections and their shard maps (from
// the watched state), by name, for collections whose map matches their
// uid.
type fleet struct {
	colls []*shoalv1.Collection // by name
	maps  map[string]*shoalv1.ShardMap
}

// snapshot copies the watched collections and shard maps.
func (c *Controller) snapshot() *fleet {
	f := &fleet{maps: map[string]*shoalv1.ShardMap{}}
	for _, coll := range c.cfg.State.Collections() {
		_, m, ok := c.cfg.State.Collection(coll.GetName())
		if !ok || m.GetUid() != coll.GetUid() {
			continue // being created or deleted
		}
		f.colls = append(f.colls, coll)
		f.maps[coll.GetName()] = m
	}
	return f
}

// mapList returns the maps in collection name order.
func (f *fleet) mapList() []*shoalv1.ShardMap {
	out := make([]*shoalv1.ShardMap, 0, len(f.colls))
	for _, coll := range f.colls {
		out = append(out, f.maps[coll.GetName()])
	}
	return out
}

// readRecords reads every transfer record and peer mark in one
// linearizable transaction; undecodable records are skipped (and
// logged). Records come in key order.
func (c *Controller) readRecords(ctx context.Context) ([]record, map[uint64]*shoalv1.PeerMark, error) {
	resp, err := c.cfg.Client.Txn(ctx).Then(
		clientv3.OpGet(cluster.TransfersPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(cluster.PeersPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, nil, fmt.Errorf("read transfer records and peer marks: %w", err)
	}
	var out []record
	for _, kv := range resp.Responses[0].GetResponseRange().GetKvs() {
		t := &shoalv1.ShardTransfer{}
		if err := proto.Unmarshal(kv.Value, t); err != nil {
			c.log.Warn().Err(err).Str("key", string(kv.Key)).Msg("skip undecodable transfer record")
			continue
		}
		out = append(out, record{key: string(kv.Key), rev: kv.ModRevision, t: t})
	}
	return out, cluster.DecodePeerMarks(resp.Responses[1].GetResponseRange().GetKvs()), nil
}

func recordList(rs []record) []*shoalv1.ShardTransfer {
	out := make([]*shoalv1.ShardTransfer, len(rs))
	for i, r := range rs {
		out[i] = r.t
	}
	return out
}

// lostNodes updates when each storage node named by a shard map was first
// seen unregistered and returns those unregistered for at least
// ReplicaLostAfter. While judge is false (the grace period after winning
// the election) nothing is judged and nothing is lost.
func (c *Controller) lostNodes(nodes []*shoalv1.Node, f *fleet, judge bool, now time.Time) map[uint64]bool {
	lost := map[uint64]bool{}
	if !judge {
		return lost
	}
	registered := map[uint64]bool{}
	for _, n := range nodes {
		registered[n.GetId()] = true
	}
	named := map[uint64]bool{}
	for _, m := range f.maps {
		for _, sh := range m.GetShards() {
			for _, r := range sh.GetReplicas() {
				named[r.GetNodeId()] = true
			}
		}
	}
	for id := range c.absent {
		if registered[id] || !named[id] {
			delete(c.absent, id)
		}
	}
	for id := range named {
		if registered[id] {
			continue
		}
		since, ok := c.absent[id]
		if !ok {
			c.absent[id] = now
			since = now
		}
		if now.Sub(since) >= c.cfg.ReplicaLostAfter {
			lost[id] = true
		}
	}
	return lost
}

// shardRef names one shard of one creation of a collection.
type shardRef struct {
	uid   string
	shard uint32
}

// busyShards returns the shards that some transfer record names.
func busyShards(records []record) map[shardRef]bool {
	busy := map[shardRef]bool{}
	for _, r := range records {
		busy[shardRef{r.t.GetUid(), r.t.GetShardId()}] = true
	}
	return busy
}

// replicaCounts counts, per node that may receive replicas (v.target),
// the replicas it holds or is about to hold: every replica in a map
// except Listener ones, minus the sources of moves and drops in flight,
// plus the targets of queued transfers.
func replicaCounts(f *fleet, v nodeView, records []record) map[uint64]int {
	count := map[uint64]int{}
	for id := range v.nodes {
		if v.target(id) {
			count[id] = 0
		}
	}
	add := func(id uint64, d int) {
		if _, ok := count[id]; ok {
			count[id] += d
		}
	}
	for _, m := range f.maps {
		for _, sh := range m.GetShards() {
			for _, r := range sh.GetReplicas() {
				if r.GetState() != stateListener {
					add(r.GetNodeId(), 1)
				}
			}
		}
	}
	for _, r := range records {
		if r.t.GetKind() == kindMove || r.t.GetKind() == kindDrop {
			add(r.t.GetFromNode(), -1)
		}
		if r.t.GetQueued() {
			add(r.t.GetToNode(), 1)
		}
	}
	return count
}

// sortedIDs returns the keys of m in ascending order.
func sortedIDs[V any](m map[uint64]V) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
