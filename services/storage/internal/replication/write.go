package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// primaryWait bounds how long a write waits for this node to take up a
// primary role the maps give it (a newer map or a replica still opening).
const primaryWait = 2 * time.Second

// Write applies op as the primary of ref's shard: it logs and applies it
// locally (which gives it the next sequence number), the shippers carry
// it to the followers in order, and Write returns once
// write_consistency_factor replicas, this one included, hold it. wait
// asks for it to be applied (searchable) here before the answer;
// followers always apply before they acknowledge. With wait, Write also
// waits (briefly) for the other healthy Active followers, so that reads
// from any replica see the write.
//
// term, when not 0, is the shard's term in the sender's map; Write
// refuses with ErrNotPrimary unless this node is the primary at exactly
// that term. With too few Active replicas Write refuses with
// ErrConsistency before applying anything; when acknowledgements fall
// short afterwards it also returns ErrConsistency, and the write stays in
// this replica's log (an unknown outcome for the client, who retries: every
// operation is idempotent). ErrRateLimited when update_rate_limit writes
// are in progress.
func (c *Coordinator) Write(ctx context.Context, ref *shoalv1.ShardRef, term uint64, op *shoalv1.Operation, wait bool) (uint64, error) {
	if c.slots != nil {
		select {
		case c.slots <- struct{}{}:
			defer func() { <-c.slots }()
		default:
			return 0, fmt.Errorf("%w: update_rate_limit is %d", ErrRateLimited, cap(c.slots))
		}
	}
	if c.cfg.LeaseAlive != nil && !c.cfg.LeaseAlive() {
		return 0, fmt.Errorf("storage node %d cannot confirm its lease with the meta service; writes wait until it can (reads continue): %w", c.cfg.NodeID, ErrNoLease)
	}
	g, err := c.primary(ctx, ref, term)
	if err != nil {
		return 0, err
	}
	need, err := g.admit()
	if err != nil {
		return 0, err
	}
	defer g.release()
	if t := g.r.Term(); t != g.term {
		g.fence(t)
		return 0, fmt.Errorf("shard %s: replica follows term %d, not %d: %w", g.key, t, g.term, ErrNotPrimary)
	}
	seq, err := g.r.ApplyAt(ctx, g.term, op, wait)
	if errors.Is(err, replica.ErrTermChanged) {
		g.fence(g.r.Term())
		return 0, fmt.Errorf("shard %s: %w: %w", g.key, ErrNotPrimary, err)
	}
	if err != nil {
		return 0, err
	}
	if err := g.waitAcks(ctx, seq, need, wait); err != nil {
		return 0, err
	}
	return seq, nil
}

// primary returns the group of ref's shard when this node leads it at
// term (any term when 0). When the maps say this node leads it but the
// group is not up yet, or the sender knows a newer term than this node,
// it waits up to primaryWait for the maps and the reconcile to catch up.
func (c *Coordinator) primary(ctx context.Context, ref *shoalv1.ShardRef, term uint64) (*group, error) {
	k := groupKey{ref.GetCollection(), ref.GetUid(), ref.GetShardId()}
	timer := time.NewTimer(primaryWait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		g, ok := c.groups[k]
		reconciled, closed := c.reconciled, c.closed
		c.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("node stopping: %w", ErrNotPrimary)
		}
		if ok && (term == 0 || term == g.term) {
			return g, nil
		}
		if ok && term < g.term || !c.mayLead(k, term) {
			return nil, c.notPrimary(k, term)
		}
		select {
		case <-reconciled:
		case <-timer.C:
			return nil, c.notPrimary(k, term)
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the primary role of shard %s: %w", k, ctx.Err())
		}
	}
}

// mayLead reports whether waiting can make this node the primary of k at
// term: the map names it primary (its group is starting), or the sender
// knows a newer term than the map this node has.
func (c *Coordinator) mayLead(k groupKey, term uint64) bool {
	_, m, ok := c.cfg.Maps.Collection(k.collection)
	if !ok || m.GetUid() != k.uid {
		return true // the collection's map has not arrived yet
	}
	sh := cluster.FindShard(m, k.shard)
	if sh == nil {
		return false
	}
	if term > sh.GetTerm() {
		return true
	}
	return sh.GetPrimary() == c.cfg.NodeID && (term == 0 || term == sh.GetTerm())
}

func (c *Coordinator) notPrimary(k groupKey, term uint64) error {
	primary, current := uint64(0), uint64(0)
	if _, m, ok := c.cfg.Maps.Collection(k.collection); ok {
		if sh := cluster.FindShard(m, k.shard); sh != nil {
			primary, current = sh.GetPrimary(), sh.GetTerm()
		}
	}
	return fmt.Errorf("node %d is not the primary of shard %d of `%s` at term %d (the map names node %d at term %d): %w",
		c.cfg.NodeID, k.shard, k.collection, term, primary, current, ErrNotPrimary)
}
