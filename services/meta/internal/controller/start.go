package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// errStale says that a decision no longer holds: the map, the record or
// the transfers in flight changed since it was made, or the limits no
// longer allow it. The next pass decides again.
var errStale = errors.New("decision no longer holds")

// startTransfer starts transfer t: in one etcd transaction it writes t as
// a started record at key (queued cleared) and coll's shard map as edit
// leaves it (edit adds the Partial target replica and may drop a lost
// one; it returns false when the decision no longer holds). The write is
// guarded on the map's revision, on the record's (prev is the mod
// revision it was read with, 0 for a new record) and on no transfer
// record having changed since the limits were checked against them, so
// two starts never both take a node's last slot. It returns errStale when
// anything changed or the limits (counted afresh) do not allow it, and
// takes the slot in load when it started.
func (c *Controller) startTransfer(ctx context.Context, l *leadership, coll *shoalv1.Collection, key string, prev int64, t *shoalv1.ShardTransfer,
	edit func(sh *shoalv1.Shard) bool, load *cluster.TransferLoad) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	name := coll.GetName()
	snap, err := c.cfg.Client.Txn(ctx).Then(
		clientv3.OpGet(cluster.ShardMapKey(name)),
		clientv3.OpGet(cluster.TransfersPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return fmt.Errorf("read %s for a transfer: %w", name, err)
	}
	mapKvs := snap.Responses[0].GetResponseRange().GetKvs()
	if len(mapKvs) == 0 {
		return errStale
	}
	m := &shoalv1.ShardMap{}
	if err := proto.Unmarshal(mapKvs[0].Value, m); err != nil {
		return fmt.Errorf("decode shard map %s: %w", name, err)
	}
	if m.GetUid() != coll.GetUid() {
		return errStale
	}
	var records []*shoalv1.ShardTransfer
	var cur int64
	for _, kv := range snap.Responses[1].GetResponseRange().GetKvs() {
		r := &shoalv1.ShardTransfer{}
		if proto.Unmarshal(kv.Value, r) != nil {
			continue
		}
		if string(kv.Key) == key {
			cur = kv.ModRevision
			continue // the record being started is not in flight yet
		}
		records = append(records, r)
	}
	if cur != prev {
		return errStale
	}
	maps := []*shoalv1.ShardMap{m}
	for _, om := range c.snapshot().maps {
		if om.GetUid() != m.GetUid() {
			maps = append(maps, om)
		}
	}
	if !cluster.NewTransferLoad(c.cfg.Limits, maps, records).Allows(t.GetFromNode(), t.GetToNode()) {
		return errStale
	}
	sh := cluster.FindShard(m, t.GetShardId())
	if sh == nil || !edit(sh) {
		return errStale
	}
	m.Epoch++
	mapVal, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode shard map %s: %w", name, err)
	}
	t = proto.Clone(t).(*shoalv1.ShardTransfer)
	t.Queued = false
	recVal, err := proto.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode transfer %s: %w", key, err)
	}
	rev := snap.Header.GetRevision()
	resp, err := c.cfg.Client.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(cluster.ShardMapKey(name)), "=", mapKvs[0].ModRevision),
		clientv3.Compare(clientv3.ModRevision(key), "=", prev),
		clientv3.Compare(clientv3.ModRevision(cluster.TransfersPrefix), "<", rev+1).WithPrefix(),
	).Then(
		clientv3.OpPut(cluster.ShardMapKey(name), string(mapVal)),
		clientv3.OpPut(key, string(recVal)),
	).Commit()
	if err != nil {
		return fmt.Errorf("start transfer %s: %w", key, err)
	}
	if !resp.Succeeded {
		return errStale
	}
	if load != nil {
		load.Take(t.GetFromNode(), t.GetToNode())
	}
	c.log.Info().Str("collection", name).Uint32("shard", t.GetShardId()).Uint64("from", t.GetFromNode()).Uint64("to", t.GetToNode()).
		Stringer("kind", t.GetKind()).Str("method", t.GetMethod()).Uint64("epoch", m.GetEpoch()).Msg("shard transfer started")
	return nil
}

// addTarget is the usual edit of startTransfer: the target gets an empty
// Partial replica (the shard's primary fills it and sets it Active),
// provided the source still holds an Active replica and the target none.
func addTarget(t *shoalv1.ShardTransfer) func(sh *shoalv1.Shard) bool {
	return func(sh *shoalv1.Shard) bool {
		src := cluster.FindReplica(sh, t.GetFromNode())
		if src == nil || src.GetState() != stateActive || cluster.FindReplica(sh, t.GetToNode()) != nil {
			return false
		}
		sh.Replicas = append(sh.Replicas, &shoalv1.Replica{NodeId: t.GetToNode(), State: statePartial})
		return true
	}
}

// dropReplica removes node's replica of a shard from coll's map, unless
// it is the shard's primary or its last Active replica.
func (c *Controller) dropReplica(ctx context.Context, l *leadership, coll *shoalv1.Collection, shard uint32, node uint64, why string) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	dropped := false
	written, err := cluster.UpdateShardMap(ctx, c.cfg.Client, coll.GetName(), coll.GetUid(), func(m *shoalv1.ShardMap) (bool, error) {
		dropped = false
		sh := cluster.FindShard(m, shard)
		if sh == nil || sh.GetPrimary() == node {
			return false, nil
		}
		r := cluster.FindReplica(sh, node)
		if r == nil || (r.GetState() == stateActive && cluster.ActiveCount(sh) <= 1) {
			return false, nil
		}
		cluster.RemoveReplica(sh, node)
		dropped = true
		return true, nil
	})
	if errors.Is(err, cluster.ErrShardMapGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("drop replica of %s shard %d on node %d: %w", coll.GetName(), shard, node, err)
	}
	if dropped {
		c.log.Info().Str("collection", coll.GetName()).Uint32("shard", shard).Uint64("node", node).Str("reason", why).
			Uint64("epoch", written.GetEpoch()).Msg("replica dropped")
	}
	return nil
}
