package controller

import (
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

const (
	stateActive        = shoalv1.ReplicaState_REPLICA_STATE_ACTIVE
	stateDead          = shoalv1.ReplicaState_REPLICA_STATE_DEAD
	statePartial       = shoalv1.ReplicaState_REPLICA_STATE_PARTIAL
	stateListener      = shoalv1.ReplicaState_REPLICA_STATE_LISTENER
	stateRecovery      = shoalv1.ReplicaState_REPLICA_STATE_RECOVERY
	nodeTypeListener   = shoalv1.NodeType_NODE_TYPE_LISTENER
	nodeTypeNormal     = shoalv1.NodeType_NODE_TYPE_NORMAL
	storageTier        = shoalv1.NodeTier_NODE_TIER_STORAGE
	reasonLeaseLost    = "node lease lapsed"
	reasonBack         = "node registered again and the shard has a live primary"
	reasonToListener   = "node runs as Listener"
	reasonFromListener = "node runs as Normal again"
)

// nodeView is what one reconcile knows of the registered storage nodes.
type nodeView struct {
	nodes map[uint64]*shoalv1.Node
	// judge is false during the grace period after the controller took
	// leadership: an absent node may simply not have registered again
	// yet (a whole-cluster restart), so absence is not yet a lapsed lease.
	judge bool
	// draining are the nodes an administrator drains: they keep their
	// replicas until moved but get no new one.
	draining map[uint64]bool
	// lost are the nodes whose replicas are lost for good: removed, or
	// unregistered for longer than the replica-lost delay.
	lost map[uint64]bool
}

// newNodeView builds the view from the registered nodes. Nodes marked
// removed are left out: their replicas are judged like those of a node
// whose lease lapsed, and they are never a target.
func newNodeView(nodes []*shoalv1.Node, judge bool) nodeView {
	return newNodeViewMarked(nodes, judge, nil, nil)
}

// newNodeViewMarked is newNodeView with the administrators' marks and the
// nodes taken for lost (a removed node is always lost).
func newNodeViewMarked(nodes []*shoalv1.Node, judge bool, marks map[uint64]*shoalv1.PeerMark, lost map[uint64]bool) nodeView {
	v := nodeView{nodes: make(map[uint64]*shoalv1.Node, len(nodes)), judge: judge, draining: map[uint64]bool{}, lost: map[uint64]bool{}}
	for id := range lost {
		v.lost[id] = true
	}
	for id, m := range marks {
		switch {
		case m.GetRemoved():
			v.lost[id] = true
		case m.GetDraining():
			v.draining[id] = true
		}
	}
	for _, n := range nodes {
		if n.GetTier() == storageTier && !v.lost[n.GetId()] {
			v.nodes[n.GetId()] = n
		}
	}
	return v
}

// target reports whether node id may receive a new replica that counts
// toward the replication factor: registered, Normal, not draining, not
// lost.
func (v nodeView) target(id uint64) bool {
	return v.normal(id) && !v.draining[id] && !v.lost[id]
}

// registered reports whether node id holds a lease now.
func (v nodeView) registered(id uint64) bool { _, ok := v.nodes[id]; return ok }

// gone reports whether node id's lease lapsed: it is not registered and
// the grace period is over.
func (v nodeView) gone(id uint64) bool { return v.lost[id] || (v.judge && !v.registered(id)) }

// listener reports whether node id is registered as a Listener.
func (v nodeView) listener(id uint64) bool {
	n, ok := v.nodes[id]
	return ok && n.GetNodeType() == nodeTypeListener
}

// normal reports whether node id is registered as a Normal node.
func (v nodeView) normal(id uint64) bool {
	n, ok := v.nodes[id]
	return ok && n.GetNodeType() == nodeTypeNormal
}

// promotion is a failover decided from the candidates' positions. It
// applies only while the shard still has the term and primary it was
// decided for and the chosen replica is still a candidate.
type promotion struct {
	term     uint64
	from, to uint64
}

// change is one replica state decision, for the log.
type change struct {
	shard    uint32
	node     uint64
	from, to shoalv1.ReplicaState
	reason   string
}

// failover is one primary change, for the log.
type failover struct {
	shard    uint32
	from, to uint64
	term     uint64
}

// outcome collects what one reconcile of a map decided.
type outcome struct {
	changes   []change
	failovers []failover
}

func (o *outcome) empty() bool { return len(o.changes) == 0 && len(o.failovers) == 0 }

// needsFailover reports whether sh needs a new primary: its primary's lease
// lapsed, its replica is Dead or missing, or its node runs as a Listener
// (a Listener is never primary).
func needsFailover(sh *shoalv1.Shard, v nodeView) bool {
	p := cluster.FindReplica(sh, sh.GetPrimary())
	return p == nil || p.GetState() == stateDead || v.gone(sh.GetPrimary()) || v.listener(sh.GetPrimary())
}

// candidates returns the replicas that may become sh's primary: Active,
// on a registered Normal node, not the current primary; in map order.
func candidates(sh *shoalv1.Shard, v nodeView) []uint64 {
	var out []uint64
	for _, r := range sh.GetReplicas() {
		if r.GetNodeId() != sh.GetPrimary() && r.GetState() == stateActive && v.normal(r.GetNodeId()) {
			out = append(out, r.GetNodeId())
		}
	}
	return out
}

// primaryLive reports whether sh's primary can serve: its node is
// registered and its replica Active.
func primaryLive(sh *shoalv1.Shard, v nodeView) bool {
	p := cluster.FindReplica(sh, sh.GetPrimary())
	return p != nil && p.GetState() == stateActive && v.registered(sh.GetPrimary())
}

// reviveFunc says whether a Dead replica of shard on a registered node may
// become Partial now; nil allows every one.
type reviveFunc func(shard uint32, node uint64) bool

// reconcileMap applies the rules to every shard of m in place; promos are
// the failovers decided for it, by shard id.
func reconcileMap(m *shoalv1.ShardMap, v nodeView, promos map[uint32]promotion, revive reviveFunc, out *outcome) {
	for _, sh := range m.GetShards() {
		p, ok := promos[sh.GetId()]
		var pp *promotion
		if ok {
			pp = &p
		}
		reconcileShard(sh, v, pp, revive, out)
	}
}

// reconcileShard applies the rules to one shard, in this order:
//  1. failover to p, if p still applies (see promotion);
//  2. a replica other than the primary whose node's lease lapsed and whose
//     state is Active, Listener, Partial or Recovery becomes Dead, except
//     the shard's last Active replica (the primary itself only loses its
//     place through a failover, which then makes it Dead here);
//  3. a Dead replica whose node is registered again becomes Partial when
//     the shard has a live primary, which then recovers it, and revive
//     allows it (it spaces out retries for a replica the primary keeps
//     failing while its node stays registered);
//  4. on a Listener node, an Active or Partial replica other than the
//     primary becomes Listener, except the shard's last Active replica;
//     on a Normal node, a Listener replica becomes Partial.
//
// Initializing replicas are left to the catalog's activation.
func reconcileShard(sh *shoalv1.Shard, v nodeView, p *promotion, revive reviveFunc, out *outcome) {
	set := func(r *shoalv1.Replica, to shoalv1.ReplicaState, reason string) {
		out.changes = append(out.changes, change{shard: sh.GetId(), node: r.GetNodeId(), from: r.GetState(), to: to, reason: reason})
		r.State = to
	}
	if p != nil && sh.GetTerm() == p.term && sh.GetPrimary() == p.from && needsFailover(sh, v) && contains(candidates(sh, v), p.to) {
		sh.Term++
		sh.Primary = p.to
		sh.HandoverTo = 0
		out.failovers = append(out.failovers, failover{shard: sh.GetId(), from: p.from, to: p.to, term: sh.GetTerm()})
	}
	for _, r := range sh.GetReplicas() {
		if r.GetNodeId() == sh.GetPrimary() || !v.gone(r.GetNodeId()) {
			continue
		}
		switch r.GetState() {
		case stateActive:
			if cluster.ActiveCount(sh) > 1 {
				set(r, stateDead, reasonLeaseLost)
			}
		case stateListener, statePartial, stateRecovery:
			set(r, stateDead, reasonLeaseLost)
		}
	}
	live := primaryLive(sh, v)
	for _, r := range sh.GetReplicas() {
		if r.GetNodeId() == sh.GetPrimary() {
			continue
		}
		id := r.GetNodeId()
		if r.GetState() == stateDead && live && v.registered(id) && (revive == nil || revive(sh.GetId(), id)) {
			set(r, statePartial, reasonBack)
		}
		switch {
		case v.listener(id) && (r.GetState() == statePartial || (r.GetState() == stateActive && cluster.ActiveCount(sh) > 1)):
			set(r, stateListener, reasonToListener)
		case v.normal(id) && r.GetState() == stateListener:
			set(r, statePartial, reasonFromListener)
		}
	}
}

func contains(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
