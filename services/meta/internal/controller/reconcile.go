package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// parallelFailovers bounds how many shards of a collection have their
// candidates asked for positions at once.
const parallelFailovers = 16

// reconcileTimeout bounds the reconcile of one collection, so that an
// unresponsive meta store delays the others only so long.
const reconcileTimeout = 10 * time.Second

// reconcileAll reconciles every collection's shard map with the registered
// storage nodes. judge says whether absent nodes count as gone (see
// nodeView). Failures of single collections are joined; errNotLeader ends
// the pass.
func (c *Controller) reconcileAll(ctx context.Context, l *leadership, judge bool) error {
	rctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	records, marks, err := c.readRecords(rctx)
	if err != nil {
		return err
	}
	// A record and the map edit that goes with it are one write: judge
	// the records only on a copy of the maps that includes it (else a
	// transfer just started looks like one whose target was dropped).
	var newest int64
	for _, r := range records {
		newest = max(newest, r.rev)
	}
	if err := c.cfg.State.WaitRevision(rctx, newest); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	nodes := c.cfg.State.Nodes(storageTier)
	f := c.snapshot()
	v := newNodeViewMarked(nodes, judge, marks, c.lostNodes(nodes, f, judge, time.Now()))
	load := cluster.NewTransferLoad(c.cfg.Limits, f.mapList(), recordList(records))
	// Only shards still stuck in this pass stay remembered.
	c.prevStuck, c.stuck = c.stuck, map[string]bool{}
	var errs []error
	uids := map[string]bool{}
	for _, coll := range c.cfg.State.Collections() {
		uids[coll.GetUid()] = true
		m := f.maps[coll.GetName()]
		if m == nil {
			continue // being created or deleted
		}
		cctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
		err := c.reconcileCollection(cctx, l, coll, m, v, load)
		cancel()
		if err != nil {
			if errors.Is(err, errNotLeader) || ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	c.forgetRevivals(uids)
	tctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	if err := c.driveTransfers(tctx, l, v, records, load); err != nil {
		if errors.Is(err, errNotLeader) || ctx.Err() != nil {
			return err
		}
		errs = append(errs, err)
	}
	if judge {
		hctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
		defer cancel()
		if err := c.heal(hctx, l, v, f, records, load); err != nil {
			if errors.Is(err, errNotLeader) || ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// reconcileCollection decides the failovers m needs (asking candidates for
// their positions), then, if the rules change anything, writes the map
// with one compare-and-swap. The rules run again on the map read by the
// swap, so a map changed meanwhile is judged as it is.
func (c *Controller) reconcileCollection(ctx context.Context, l *leadership, coll *shoalv1.Collection, m *shoalv1.ShardMap, v nodeView, load *cluster.TransferLoad) error {
	var errs []error
	revive := c.revivals(coll, m, v, load)
	promos := map[uint32]promotion{}
	var mu sync.Mutex // guards promos and errs while shards are decided in parallel
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallelFailovers)
	for _, sh := range m.GetShards() {
		if !needsFailover(sh, v) {
			continue
		}
		cands := candidates(sh, v)
		if len(cands) == 0 {
			key := fmt.Sprintf("%s/%d/%d", coll.GetName(), sh.GetId(), sh.GetTerm())
			c.stuck[key] = true
			if !c.prevStuck[key] {
				c.log.Warn().Str("collection", coll.GetName()).Uint32("shard", sh.GetId()).Uint64("primary", sh.GetPrimary()).
					Uint64("term", sh.GetTerm()).Msg("shard's primary is gone and no live Active replica can replace it; waiting")
			}
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			to, err := c.pickPrimary(ctx, coll, sh, cands, v)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			promos[sh.GetId()] = promotion{term: sh.GetTerm(), from: sh.GetPrimary(), to: to}
		})
	}
	wg.Wait()

	// Nothing to do is the common case: find it without a network call.
	var trial outcome
	reconcileMap(proto.Clone(m).(*shoalv1.ShardMap), v, promos, revive, &trial)
	if trial.empty() {
		return errors.Join(errs...)
	}
	if err := l.check(ctx); err != nil {
		return err
	}
	var out outcome
	written, err := cluster.UpdateShardMap(ctx, c.cfg.Client, coll.GetName(), coll.GetUid(), func(m *shoalv1.ShardMap) (bool, error) {
		out = outcome{}
		reconcileMap(m, v, promos, revive, &out)
		return !out.empty(), nil
	})
	if errors.Is(err, cluster.ErrShardMapGone) {
		return errors.Join(errs...)
	}
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("reconcile collection %s: %w", coll.GetName(), err))...)
	}
	for _, f := range out.failovers {
		c.log.Warn().Str("collection", coll.GetName()).Uint32("shard", f.shard).Uint64("old_primary", f.from).
			Uint64("new_primary", f.to).Uint64("term", f.term).Uint64("epoch", written.GetEpoch()).Msg("primary failover")
	}
	now := time.Now()
	for _, ch := range out.changes {
		if ch.from == stateDead && ch.to == statePartial {
			c.noteRevived(reviveKey{coll.GetUid(), ch.shard, ch.node}, now)
		}
		c.log.Info().Str("collection", coll.GetName()).Uint32("shard", ch.shard).Uint64("node", ch.node).
			Stringer("from", ch.from).Stringer("to", ch.to).Str("reason", ch.reason).Uint64("epoch", written.GetEpoch()).Msg("replica state")
	}
	return errors.Join(errs...)
}

// position is a candidate's answer.
type position struct {
	node      uint64
	term, seq uint64
	err       error
}

// pickPrimary asks every candidate for its position, in parallel, and
// returns the most advanced: highest (last term, last seq), then lowest
// node id. Candidates that do not answer are left out; none answering is
// an error.
func (c *Controller) pickPrimary(ctx context.Context, coll *shoalv1.Collection, sh *shoalv1.Shard, cands []uint64, v nodeView) (uint64, error) {
	ref := &shoalv1.ShardRef{Collection: coll.GetName(), Uid: coll.GetUid(), ShardId: sh.GetId()}
	answers := make([]position, len(cands))
	var wg sync.WaitGroup
	for i, id := range cands {
		answers[i].node = id
		wg.Go(func() {
			answers[i].term, answers[i].seq, answers[i].err = c.cfg.Positions.Position(ctx, v.nodes[id], ref)
		})
	}
	wg.Wait()
	var ok []position
	var errs []error
	for _, a := range answers {
		if a.err != nil {
			errs = append(errs, a.err)
			c.log.Warn().Err(a.err).Str("collection", coll.GetName()).Uint32("shard", sh.GetId()).Uint64("node", a.node).
				Msg("failover candidate did not report its position; not a candidate")
			continue
		}
		ok = append(ok, a)
	}
	if len(ok) == 0 {
		return 0, fmt.Errorf("failover of %s shard %d: no candidate reported its position: %w", coll.GetName(), sh.GetId(), errors.Join(errs...))
	}
	sort.Slice(ok, func(i, j int) bool {
		a, b := ok[i], ok[j]
		if a.term != b.term {
			return a.term > b.term
		}
		if a.seq != b.seq {
			return a.seq > b.seq
		}
		return a.node < b.node
	})
	ev := c.log.Info().Str("collection", coll.GetName()).Uint32("shard", sh.GetId()).Uint64("old_primary", sh.GetPrimary()).
		Uint64("term", sh.GetTerm()).Uint64("chosen", ok[0].node)
	for _, a := range ok {
		ev = ev.Str("node_"+fmt.Sprint(a.node), fmt.Sprintf("(%d,%d)", a.term, a.seq))
	}
	ev.Msg("failover candidates ranked")
	return ok[0].node, nil
}

// Reviving a Dead replica whose node never lost its lease (the primary
// marked it because it kept failing) is retried with a backoff per
// replica, so that a follower that keeps failing does not flap between
// Dead and Partial on every reconcile.
const (
	minReviveWait = time.Second
	maxReviveWait = time.Minute
)

type reviveKey struct {
	uid   string
	shard uint32
	node  uint64
}

// revival is when a replica was last made Partial from Dead, and how long
// to wait before doing it again.
type revival struct {
	at   time.Time
	wait time.Duration
}

// revivals forgets the revivals of m's replicas that are Active again or
// whose node lost its lease (a node that registers again is retried at
// once), and returns the rule's reviveFunc for m. A revival is a transfer
// from the shard's primary to the replica's node: the Dead replicas that
// may become Partial in this pass are chosen here, in map order, while
// load allows (their slots are taken even if the write then loses a race:
// the next pass counts afresh).
func (c *Controller) revivals(coll *shoalv1.Collection, m *shoalv1.ShardMap, v nodeView, load *cluster.TransferLoad) reviveFunc {
	allowed := map[reviveKey]bool{}
	now := time.Now()
	waiting := func(k reviveKey, now time.Time) bool {
		rv := c.revived[k]
		return rv != nil && now.Sub(rv.at) < rv.wait
	}
	for _, sh := range m.GetShards() {
		live := primaryLive(sh, v)
		for _, r := range sh.GetReplicas() {
			k := reviveKey{coll.GetUid(), sh.GetId(), r.GetNodeId()}
			if r.GetState() == stateActive || !v.registered(r.GetNodeId()) {
				delete(c.revived, k)
			}
			if r.GetState() != stateDead || !live || r.GetNodeId() == sh.GetPrimary() || !v.registered(r.GetNodeId()) {
				continue
			}
			if waiting(k, now) {
				continue
			}
			if load != nil && !load.Targeted(coll.GetUid(), sh.GetId(), r.GetNodeId()) {
				// A recovery of its own: it needs a free slot. (A replica
				// a transfer record targets has the record's slot.)
				if !load.Allows(sh.GetPrimary(), r.GetNodeId()) {
					continue
				}
				load.Take(sh.GetPrimary(), r.GetNodeId())
			}
			allowed[k] = true
		}
	}
	return func(shard uint32, node uint64) bool {
		k := reviveKey{coll.GetUid(), shard, node}
		return (load == nil || allowed[k]) && !waiting(k, time.Now())
	}
}

// noteRevived records that replica k was made Partial at now: the next
// revival waits twice as long as the last (minReviveWait at first).
func (c *Controller) noteRevived(k reviveKey, now time.Time) {
	r := c.revived[k]
	if r == nil {
		r = &revival{}
		c.revived[k] = r
	}
	r.at, r.wait = now, min(max(2*r.wait, minReviveWait), maxReviveWait)
}

// forgetRevivals drops the revivals of collections that no longer exist.
func (c *Controller) forgetRevivals(uids map[string]bool) {
	for k := range c.revived {
		if !uids[k.uid] {
			delete(c.revived, k)
		}
	}
}
