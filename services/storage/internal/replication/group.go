package replication

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// group is the primary side of one shard at one term: the local replica,
// a shipper per updatable follower, and the bookkeeping that lets a write
// wait for write_consistency_factor acknowledgements. A group never
// outlives its term: a new term (or losing the primary role) stops it.
type group struct {
	c    *Coordinator
	key  groupKey
	term uint64
	r    *replica.Replica
	log  zerolog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	wcf       int
	followers map[uint64]*shipper
	progress  chan struct{} // closed and replaced when acks or followers change
	fenced    bool          // a follower follows a newer term
	// handover is the replica the shard map asks this primary to hand its
	// role to (0: none); while set, no write is admitted.
	handover uint64
	inflight int // writes admitted and not yet answered
}

func newGroup(c *Coordinator, k groupKey, term uint64, r *replica.Replica) *group {
	ctx, cancel := context.WithCancel(context.Background())
	return &group{
		c: c, key: k, term: term, r: r,
		log:       c.log.With().Stringer("shard", k).Uint64("term", term).Logger(),
		ctx:       ctx,
		cancel:    cancel,
		wcf:       1,
		followers: map[uint64]*shipper{},
		progress:  make(chan struct{}),
	}
}

// setShard brings the followers in line with the shard map: a shipper for
// every updatable replica other than this node, with the replica's state.
func (g *group) setShard(sh *shoalv1.Shard, cfg *shoalv1.CollectionConfig) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx.Err() != nil {
		return
	}
	g.wcf = max(1, int(cfg.GetWriteConsistencyFactor()))
	g.handover = sh.GetHandoverTo()
	keep := map[uint64]bool{}
	for _, rep := range sh.GetReplicas() {
		node := rep.GetNodeId()
		if node == g.c.cfg.NodeID || !cluster.Updatable(rep.GetState()) {
			continue
		}
		keep[node] = true
		s, ok := g.followers[node]
		if ok {
			s.state.Store(int32(rep.GetState()))
			continue
		}
		// The state is set before the shipper starts: its first probe
		// decides by it (a Partial follower holding nothing gets a copy).
		var ctx context.Context
		s = &shipper{g: g, node: node}
		s.state.Store(int32(rep.GetState()))
		ctx, s.cancel = context.WithCancel(g.ctx)
		g.followers[node] = s
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			s.run(ctx)
		}()
	}
	for node, s := range g.followers {
		if !keep[node] {
			s.cancel()
			delete(g.followers, node)
		}
	}
	g.notifyLocked()
}

// stop ends every shipper and waits for them; writes waiting for acks fail.
func (g *group) stop() {
	g.cancel()
	g.mu.Lock()
	g.notifyLocked()
	g.mu.Unlock()
	g.wg.Wait()
}

func (g *group) notify() {
	g.mu.Lock()
	g.notifyLocked()
	g.mu.Unlock()
}

func (g *group) notifyLocked() {
	close(g.progress)
	g.progress = make(chan struct{})
}

// fence stops the group taking writes for good: a newer term exists (a
// follower or the replica follows it, or this primary handed its role
// over), so another node is (or is about to be) primary.
func (g *group) fence(newer uint64) {
	g.mu.Lock()
	if !g.fenced {
		g.log.Info().Uint64("newer_term", newer).Msg("a newer term exists; refusing writes until the shard map moves on")
	}
	g.fenced = true
	g.notifyLocked()
	g.mu.Unlock()
}

// admit checks, before a write is applied, that it can be acknowledged:
// the group is not fenced and this replica plus the Active followers
// reach write_consistency_factor. It returns the factor.
func (g *group) admit() (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fenced || g.ctx.Err() != nil {
		return 0, fmt.Errorf("shard %s term %d: %w", g.key, g.term, ErrNotPrimary)
	}
	if g.handover != 0 {
		return 0, fmt.Errorf("shard %s: handing the primary role to node %d: %w", g.key, g.handover, ErrNotPrimary)
	}
	if have := 1 + g.countLocked(0); have < g.wcf {
		return 0, fmt.Errorf("%w: write_consistency_factor is %d but only %d replicas of shard %d are active", ErrConsistency, g.wcf, have, g.key.shard)
	}
	g.inflight++
	return g.wcf, nil
}

// release ends a write admit let in.
func (g *group) release() {
	g.mu.Lock()
	g.inflight--
	g.notifyLocked()
	g.mu.Unlock()
}

// handOverTo makes node, which holds this primary's whole log, the shard's
// primary with the term increased, if the shard map still asks for it;
// then this group stops taking writes for good. It is called by node's
// shipper once the follower has acknowledged everything, and does nothing
// unless a hand-over to node is pending and no write is in flight (none
// can start meanwhile: admit refuses them).
func (g *group) handOverTo(ctx context.Context, node uint64) {
	g.mu.Lock()
	ready := g.handover == node && g.inflight == 0 && !g.fenced && g.ctx.Err() == nil
	acked := uint64(0)
	if s, ok := g.followers[node]; ok {
		acked = s.acked.Load()
	}
	g.mu.Unlock()
	if !ready {
		return
	}
	// The committed log must end at what the follower holds (the memory
	// position can trail a commit for a moment).
	_, rest, err := g.r.ReadLog(ctx, acked, 1, 0)
	if err != nil || len(rest) > 0 {
		return
	}
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = g.c.cfg.Update(uctx, g.key.collection, g.key.uid, func(m *shoalv1.ShardMap) (bool, error) {
		sh := cluster.FindShard(m, g.key.shard)
		if sh == nil || sh.GetPrimary() != g.c.cfg.NodeID || sh.GetTerm() != g.term || sh.GetHandoverTo() != node {
			return false, fmt.Errorf("shard %s: hand-over to node %d no longer asked: %w", g.key, node, ErrNotPrimary)
		}
		if r := cluster.FindReplica(sh, node); r == nil || r.GetState() != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
			return false, fmt.Errorf("shard %s: hand-over target %d is not active: %w", g.key, node, ErrNotPrimary)
		}
		sh.Primary, sh.Term, sh.HandoverTo = node, sh.GetTerm()+1, 0
		return true, nil
	})
	if err != nil {
		g.log.Warn().Err(err).Uint64("to", node).Msg("hand over the primary role")
		return
	}
	g.fence(g.term + 1)
	g.log.Info().Uint64("to", node).Uint64("seq", acked).Msg("primary role handed over")
}

// countLocked counts the Active followers whose acknowledged sequence
// number is at least seq (seq 0: every Active follower).
func (g *group) countLocked(seq uint64) int {
	n := 0
	for _, s := range g.followers {
		if s.counts() && s.acked.Load() >= seq {
			n++
		}
	}
	return n
}

// extraWait bounds how long a wait=true write, once
// write_consistency_factor replicas hold it, still waits for the other
// Active followers.
const extraWait = time.Second

// waitAcks waits until need replicas, this one included, hold seq. With
// all (wait=true) it then also waits, up to extraWait, until every Active
// follower holds it (a failing one costs a write at most extraWait, until
// it is marked Dead), so that a read right after the
// write finds it on any replica in the normal case (as Qdrant, which
// writes to all replicas in parallel). It fails with ErrConsistency once
// need cannot be reached any more (followers were marked Dead) or after
// the ack timeout, and with ErrNotPrimary when the group stops or is
// fenced.
func (g *group) waitAcks(ctx context.Context, seq uint64, need int, all bool) error {
	timer := time.NewTimer(g.c.cfg.AckTimeout)
	defer timer.Stop()
	var reached <-chan time.Time // set once need replicas hold seq
	for {
		g.mu.Lock()
		have, possible := 1+g.countLocked(seq), 1+g.countLocked(0)
		lagging := g.laggingLocked(seq)
		fenced, progress := g.fenced || g.ctx.Err() != nil, g.progress
		g.mu.Unlock()
		switch {
		case have >= need && (!all || lagging == 0):
			return nil
		case fenced:
			return fmt.Errorf("shard %s term %d lost its primary role while waiting for replicas: %w", g.key, g.term, ErrNotPrimary)
		case possible < need:
			return fmt.Errorf("%w: %d of the required %d replicas of shard %d hold the write", ErrConsistency, have, need, g.key.shard)
		}
		if have >= need && reached == nil {
			t := time.NewTimer(extraWait)
			defer t.Stop()
			reached = t.C
		}
		select {
		case <-progress:
		case <-reached:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("wait for replicas: %w", ctx.Err())
		case <-timer.C:
			return fmt.Errorf("%w: %d of the required %d replicas of shard %d acknowledged within %s", ErrConsistency, have, need, g.key.shard, g.c.cfg.AckTimeout)
		}
	}
}

// laggingLocked counts the Active followers that do not hold seq yet.
func (g *group) laggingLocked(seq uint64) int {
	n := 0
	for _, s := range g.followers {
		if s.counts() && s.acked.Load() < seq {
			n++
		}
	}
	return n
}

// setFollowerState sets a follower's state in the shard map if its
// current state passes from, fenced on the map still naming this node
// primary at the group's term.
func (g *group) setFollowerState(ctx context.Context, node uint64, to shoalv1.ReplicaState, from func(shoalv1.ReplicaState) bool) error {
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := g.c.cfg.Update(uctx, g.key.collection, g.key.uid, func(m *shoalv1.ShardMap) (bool, error) {
		sh := cluster.FindShard(m, g.key.shard)
		if sh == nil || sh.GetPrimary() != g.c.cfg.NodeID || sh.GetTerm() != g.term {
			return false, fmt.Errorf("shard %s: %w", g.key, ErrNotPrimary)
		}
		rep := cluster.FindReplica(sh, node)
		if rep == nil || !from(rep.GetState()) {
			return false, nil
		}
		rep.State = to
		return true, nil
	})
	return err
}
