package controller

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// step is one planned change of heal: a transfer (kind REPLICATE or MOVE
// from one node to another, to != 0), optionally dropping a replica in
// the same map write, or only the drop of a replica (to == 0).
type step struct {
	coll     *shoalv1.Collection
	shard    uint32
	kind     shoalv1.ShardTransferKind
	from, to uint64
	drop     uint64
	reason   string
}

// planner decides heal's steps for one pass. It takes the slots of the
// transfers it plans in load and keeps the replica counts current, so
// that later decisions of the pass see the earlier ones.
type planner struct {
	f     *fleet
	v     nodeView
	busy  map[shardRef]bool
	count map[uint64]int
	load  *cluster.TransferLoad
	steps []step
}

func newPlanner(f *fleet, v nodeView, records []record, load *cluster.TransferLoad) *planner {
	return &planner{f: f, v: v, busy: busyShards(records), count: replicaCounts(f, v, records), load: load}
}

// factor is the number of counted replicas sh should have.
func factor(coll *shoalv1.Collection, sh *shoalv1.Shard) int {
	if rf := sh.GetReplicationFactor(); rf > 0 {
		return int(rf)
	}
	return max(int(coll.GetConfig().GetReplicationFactor()), 1)
}

// counted is the number of sh's replicas that count toward its factor:
// not Listener, not on a lost node, and not on node except.
func (p *planner) counted(sh *shoalv1.Shard, except uint64) int {
	n := 0
	for _, r := range sh.GetReplicas() {
		if r.GetState() != stateListener && !p.v.lost[r.GetNodeId()] && r.GetNodeId() != except {
			n++
		}
	}
	return n
}

// target picks the node that receives a new replica of sh from node
// from: one that may hold replicas (v.target), does not hold sh, and has
// a free incoming slot, with the fewest replicas (ties: lowest id). 0 if
// none, or if from has no free outgoing slot.
func (p *planner) target(sh *shoalv1.Shard, from uint64) uint64 {
	best := uint64(0)
	for _, id := range sortedIDs(p.count) {
		if cluster.FindReplica(sh, id) != nil || !p.load.Allows(from, id) {
			continue
		}
		if best == 0 || p.count[id] < p.count[best] {
			best = id
		}
	}
	return best
}

func (p *planner) add(s step) {
	p.steps = append(p.steps, s)
	p.busy[shardRef{s.coll.GetUid(), s.shard}] = true
	if s.to != 0 {
		p.load.Take(s.from, s.to)
		p.count[s.to]++
	}
	if s.kind == kindMove {
		if _, ok := p.count[s.from]; ok {
			p.count[s.from]--
		}
	}
}

// shards calls fn for every shard not involved in a transfer, in
// collection name and shard order.
func (p *planner) shards(fn func(coll *shoalv1.Collection, sh *shoalv1.Shard)) {
	for _, coll := range p.f.colls {
		for _, sh := range p.f.maps[coll.GetName()].GetShards() {
			if !p.busy[shardRef{coll.GetUid(), sh.GetId()}] {
				fn(coll, sh)
			}
		}
	}
}

// replace plans the removal of sh's replica on node (not the primary):
// dropped alone when the shard keeps its factor without it (or the
// replica is a Listener one), otherwise together with a new replica
// filled by the live primary on the best target; nothing when there is
// no target or no live primary yet.
func (p *planner) replace(coll *shoalv1.Collection, sh *shoalv1.Shard, r *shoalv1.Replica, reason string) {
	node := r.GetNodeId()
	if r.GetState() == stateListener || p.counted(sh, node) >= factor(coll, sh) {
		if r.GetState() != stateActive || cluster.ActiveCount(sh) > 1 {
			p.add(step{coll: coll, shard: sh.GetId(), drop: node, reason: reason})
		}
		return
	}
	if !primaryLive(sh, p.v) {
		return
	}
	if to := p.target(sh, sh.GetPrimary()); to != 0 {
		p.add(step{coll: coll, shard: sh.GetId(), kind: kindReplicate, from: sh.GetPrimary(), to: to, drop: node, reason: reason})
	}
}

// planLost re-creates the replicas on lost nodes (removed, or
// unregistered past ReplicaLostAfter), one per shard and pass. A lost
// primary waits for its failover.
func (p *planner) planLost() {
	p.shards(func(coll *shoalv1.Collection, sh *shoalv1.Shard) {
		for _, r := range sh.GetReplicas() {
			if p.v.lost[r.GetNodeId()] && r.GetNodeId() != sh.GetPrimary() {
				p.replace(coll, sh, r, "node lost")
				return
			}
		}
	})
}

// planDrain empties draining nodes: an Active replica moves (a primary
// hands over first, see driveTransfer), any other is replaced like a
// lost one; Initializing replicas wait for activation.
func (p *planner) planDrain() {
	p.shards(func(coll *shoalv1.Collection, sh *shoalv1.Shard) {
		for _, r := range sh.GetReplicas() {
			node := r.GetNodeId()
			if !p.v.draining[node] || p.v.lost[node] {
				continue
			}
			switch r.GetState() {
			case shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING:
			case stateActive:
				if !p.v.registered(node) {
					continue // its data leaves with it: wait for it or for its loss
				}
				if to := p.target(sh, node); to != 0 {
					p.add(step{coll: coll, shard: sh.GetId(), kind: kindMove, from: node, to: to, reason: "node draining"})
				}
			default:
				if node != sh.GetPrimary() {
					p.replace(coll, sh, r, "node draining")
				}
			}
			return
		}
	})
}

// planRebalance moves replicas from the nodes holding the most to those
// holding the fewest until no two differ by more than one: only Active
// replicas of shards whose counted replicas are all Active and whose
// primary is live, to a node not holding the shard, within the limits;
// a non-primary replica is preferred to the primary's (whose move hands
// over first).
func (p *planner) planRebalance() {
	for {
		if !p.rebalanceOne() {
			return
		}
	}
}

func (p *planner) rebalanceOne() bool {
	ids := sortedIDs(p.count)
	desc := append([]uint64(nil), ids...)
	sort.SliceStable(desc, func(i, j int) bool { return p.count[desc[i]] > p.count[desc[j]] })
	asc := append([]uint64(nil), ids...)
	sort.SliceStable(asc, func(i, j int) bool { return p.count[asc[i]] < p.count[asc[j]] })
	for _, primary := range []bool{false, true} {
		for _, src := range desc {
			for _, dst := range asc {
				if p.count[src]-p.count[dst] < 2 {
					break
				}
				if !p.load.Allows(src, dst) {
					continue
				}
				if s, ok := p.movable(src, dst, primary); ok {
					p.add(s)
					return true
				}
			}
		}
	}
	return false
}

// movable finds a shard whose replica on src may move to dst; primary
// says whether src must be the shard's primary or must not be.
func (p *planner) movable(src, dst uint64, primary bool) (step, bool) {
	var out step
	found := false
	p.shards(func(coll *shoalv1.Collection, sh *shoalv1.Shard) {
		if found || (sh.GetPrimary() == src) != primary || !primaryLive(sh, p.v) {
			return
		}
		r := cluster.FindReplica(sh, src)
		if r == nil || r.GetState() != stateActive || cluster.FindReplica(sh, dst) != nil {
			return
		}
		for _, o := range sh.GetReplicas() {
			if o.GetState() != stateActive && o.GetState() != stateListener {
				return
			}
		}
		out, found = step{coll: coll, shard: sh.GetId(), kind: kindMove, from: src, to: dst, reason: "rebalance"}, true
	})
	return out, found
}

// heal plans and takes this pass's steps: re-create lost replicas, empty
// draining nodes, then (when enabled) rebalance. Steps whose decision no
// longer holds when written are skipped; the next pass plans again.
func (c *Controller) heal(ctx context.Context, l *leadership, v nodeView, f *fleet, records []record, load *cluster.TransferLoad) error {
	p := newPlanner(f, v, records, load)
	p.planLost()
	p.planDrain()
	if c.cfg.Rebalance {
		p.planRebalance()
	}
	var errs []error
	for _, s := range p.steps {
		if err := c.take(ctx, l, s); err != nil {
			if errors.Is(err, errNotLeader) || ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// take writes one step.
func (c *Controller) take(ctx context.Context, l *leadership, s step) error {
	if s.to == 0 {
		return c.dropReplica(ctx, l, s.coll, s.shard, s.drop, s.reason)
	}
	t := &shoalv1.ShardTransfer{
		Collection: s.coll.GetName(), Uid: s.coll.GetUid(), ShardId: s.shard, FromNode: s.from, ToNode: s.to,
		Kind: s.kind, StartedUnixMs: time.Now().UnixMilli(),
	}
	add := addTarget(t)
	edit := func(sh *shoalv1.Shard) bool {
		if s.drop != 0 {
			r := cluster.FindReplica(sh, s.drop)
			if r == nil || sh.GetPrimary() == s.drop || (r.GetState() == stateActive && cluster.ActiveCount(sh) <= 1) {
				return false
			}
			cluster.RemoveReplica(sh, s.drop)
		}
		return add(sh)
	}
	key := cluster.TransferKey(s.coll.GetName(), s.shard, s.from, s.to)
	err := c.startTransfer(ctx, l, s.coll, key, 0, t, edit, nil)
	if errors.Is(err, errStale) {
		return nil
	}
	if err == nil {
		c.log.Info().Str("collection", s.coll.GetName()).Uint32("shard", s.shard).Uint64("from", s.from).Uint64("to", s.to).
			Uint64("dropped", s.drop).Str("reason", s.reason).Msg("controller started a shard transfer")
	}
	return err
}
