package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	kindReplicate = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_REPLICATE
	kindMove      = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_MOVE
	kindDrop      = shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_DROP
)

// driveTransfers takes every transfer record (written by the catalog's
// UpdateClusterSetup) one step further:
//
//   - a replicate whose target replica is Active is done: the record goes;
//   - a move whose target replica is Active drops the source replica, after
//     handing the primary role over when the source holds it;
//   - a drop of a primary hands the role over, then removes the replica;
//   - a record whose collection, shard, target or source replica is gone
//     (aborted, dropped, collection deleted), or whose target's node now
//     runs as a Listener or is lost, is deleted;
//   - a queued record starts, oldest first, when load allows a transfer
//     from its source to its target (see startQueued).
//
// The target replica itself is filled by the shard's primary, which ships
// its log to every updatable follower (a full copy when the log no longer
// reaches back) and sets the replica Active.
func (c *Controller) driveTransfers(ctx context.Context, l *leadership, v nodeView, records []record, load *cluster.TransferLoad) error {
	var errs []error
	var queued []record
	for _, r := range records {
		if r.t.GetQueued() {
			queued = append(queued, r)
			continue
		}
		if err := c.driveTransfer(ctx, l, v, r.key, r.rev, r.t); err != nil {
			if errors.Is(err, errNotLeader) || ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	sort.SliceStable(queued, func(i, j int) bool { return queued[i].t.GetStartedUnixMs() < queued[j].t.GetStartedUnixMs() })
	for _, r := range queued {
		if err := c.startQueued(ctx, l, v, r, load); err != nil {
			if errors.Is(err, errNotLeader) || ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// startQueued starts a queued transfer when load allows it. A record
// whose collection, shard or source replica is gone, or whose target can
// no longer receive it (Listener, draining, removed or lost, or already
// holding the shard), ends; one whose source is not Active or whose
// target is unregistered for now waits.
func (c *Controller) startQueued(ctx context.Context, l *leadership, v nodeView, r record, load *cluster.TransferLoad) error {
	t := r.t
	coll, m, ok := c.cfg.State.Collection(t.GetCollection())
	if !ok || m.GetUid() != t.GetUid() || coll.GetUid() != t.GetUid() {
		return c.endTransfer(ctx, l, r.key, r.rev, t, "collection gone")
	}
	sh := cluster.FindShard(m, t.GetShardId())
	if sh == nil {
		return c.endTransfer(ctx, l, r.key, r.rev, t, "shard gone")
	}
	src := cluster.FindReplica(sh, t.GetFromNode())
	switch to := t.GetToNode(); {
	case src == nil:
		return c.endTransfer(ctx, l, r.key, r.rev, t, "source replica gone")
	case v.lost[to] || v.draining[to] || v.listener(to):
		return c.endTransfer(ctx, l, r.key, r.rev, t, "target node can no longer receive replicas")
	case cluster.FindReplica(sh, to) != nil:
		return c.endTransfer(ctx, l, r.key, r.rev, t, "target already holds the shard")
	case !v.normal(to) || src.GetState() != stateActive || !load.Allows(t.GetFromNode(), to):
		return nil
	}
	err := c.startTransfer(ctx, l, coll, r.key, r.rev, t, addTarget(t), load)
	if errors.Is(err, errStale) {
		return nil
	}
	return err
}

func (c *Controller) driveTransfer(ctx context.Context, l *leadership, v nodeView, key string, rev int64, t *shoalv1.ShardTransfer) error {
	coll, m, ok := c.cfg.State.Collection(t.GetCollection())
	if !ok || m.GetUid() != t.GetUid() || coll.GetUid() != t.GetUid() {
		return c.endTransfer(ctx, l, key, rev, t, "collection gone")
	}
	sh := cluster.FindShard(m, t.GetShardId())
	if sh == nil {
		return c.endTransfer(ctx, l, key, rev, t, "shard gone")
	}
	if t.GetKind() == kindReplicate || t.GetKind() == kindMove {
		tgt := cluster.FindReplica(sh, t.GetToNode())
		if tgt == nil {
			return c.endTransfer(ctx, l, key, rev, t, "target replica gone")
		}
		if v.lost[t.GetToNode()] && tgt.GetState() != stateActive {
			// Its node was removed or is gone for good: the replica is
			// re-created elsewhere (see heal).
			return c.endTransfer(ctx, l, key, rev, t, "target node lost")
		}
		if tgt.GetState() == stateListener {
			// Its node runs as a Listener now: never a move's target.
			return c.endTransfer(ctx, l, key, rev, t, "target node runs as Listener")
		}
		if tgt.GetState() != stateActive {
			return nil // the primary is still filling it
		}
		if t.GetKind() == kindReplicate {
			return c.endTransfer(ctx, l, key, rev, t, "target replica Active")
		}
	}
	if cluster.FindReplica(sh, t.GetFromNode()) == nil {
		return c.endTransfer(ctx, l, key, rev, t, "source replica dropped")
	}
	if sh.GetPrimary() == t.GetFromNode() {
		return c.handOver(ctx, l, coll, sh, v)
	}
	if err := l.check(ctx); err != nil {
		return err
	}
	_, err := cluster.UpdateShardMap(ctx, c.cfg.Client, coll.GetName(), coll.GetUid(), func(m *shoalv1.ShardMap) (bool, error) {
		sh := cluster.FindShard(m, t.GetShardId())
		if sh == nil || sh.GetPrimary() == t.GetFromNode() {
			return false, nil
		}
		r := cluster.FindReplica(sh, t.GetFromNode())
		if r == nil || (r.GetState() == stateActive && cluster.ActiveCount(sh) <= 1) {
			return false, nil
		}
		if t.GetKind() == kindMove {
			if tgt := cluster.FindReplica(sh, t.GetToNode()); tgt == nil || tgt.GetState() != stateActive {
				return false, nil
			}
		}
		cluster.RemoveReplica(sh, t.GetFromNode())
		return true, nil
	})
	if errors.Is(err, cluster.ErrShardMapGone) {
		return c.endTransfer(ctx, l, key, rev, t, "collection gone")
	}
	if err != nil {
		return fmt.Errorf("drop replica of %s shard %d on node %d: %w", coll.GetName(), t.GetShardId(), t.GetFromNode(), err)
	}
	// The next pass finds the source gone and deletes the record.
	c.log.Info().Str("collection", coll.GetName()).Uint32("shard", t.GetShardId()).Uint64("node", t.GetFromNode()).
		Stringer("kind", t.GetKind()).Msg("replica dropped")
	return nil
}

// endTransfer deletes a record unless it changed since it was read.
func (c *Controller) endTransfer(ctx context.Context, l *leadership, key string, rev int64, t *shoalv1.ShardTransfer, why string) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	resp, err := c.cfg.Client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(clientv3.OpDelete(key)).Commit()
	if err != nil {
		return fmt.Errorf("delete transfer record %s: %w", key, err)
	}
	if resp.Succeeded {
		c.log.Info().Str("collection", t.GetCollection()).Uint32("shard", t.GetShardId()).Uint64("from", t.GetFromNode()).
			Uint64("to", t.GetToNode()).Stringer("kind", t.GetKind()).Str("method", t.GetMethod()).Str("reason", why).Msg("shard transfer ended")
	}
	return nil
}

// handOver asks sh's primary to hand its role to the most advanced other
// Active replica on a live Normal node: it sets the shard's handover_to.
// The primary then stops taking writes, waits until that replica holds
// its whole log and makes it primary with the term increased, itself (the
// only node that knows when its log is complete: no acknowledged write is
// lost, whatever write_consistency_factor is). A request whose target is
// no longer a candidate is withdrawn (and made again on a later pass);
// failover clears it.
func (c *Controller) handOver(ctx context.Context, l *leadership, coll *shoalv1.Collection, sh *shoalv1.Shard, v nodeView) error {
	cands := candidates(sh, v)
	from := sh.GetPrimary()
	if _, ok := v.nodes[from]; !ok {
		return nil // the primary is down: failover, not handover, applies
	}
	want := uint64(0)
	switch cur := sh.GetHandoverTo(); {
	case cur != 0 && contains(cands, cur):
		return nil // in progress
	case len(cands) > 0 && cur == 0:
		to, err := c.pickPrimary(ctx, coll, sh, cands, v)
		if err != nil {
			return fmt.Errorf("hand over %s shard %d: %w", coll.GetName(), sh.GetId(), err)
		}
		want = to
	case cur == 0:
		return nil // no successor yet: a move's target is not Active, or every other replica is down
	}
	if err := l.check(ctx); err != nil {
		return err
	}
	written, err := cluster.UpdateShardMap(ctx, c.cfg.Client, coll.GetName(), coll.GetUid(), func(m *shoalv1.ShardMap) (bool, error) {
		s := cluster.FindShard(m, sh.GetId())
		if s == nil || s.GetTerm() != sh.GetTerm() || s.GetPrimary() != from || s.GetHandoverTo() != sh.GetHandoverTo() {
			return false, nil
		}
		if want != 0 {
			if r := cluster.FindReplica(s, want); r == nil || r.GetState() != stateActive {
				return false, nil
			}
		}
		s.HandoverTo = want
		return true, nil
	})
	if errors.Is(err, cluster.ErrShardMapGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hand over %s shard %d: %w", coll.GetName(), sh.GetId(), err)
	}
	c.log.Info().Str("collection", coll.GetName()).Uint32("shard", sh.GetId()).Uint64("primary", from).
		Uint64("handover_to", want).Uint64("epoch", written.GetEpoch()).Msg("primary asked to hand over")
	return nil
}
