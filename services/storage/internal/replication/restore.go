package replication

import (
	"context"
	"fmt"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// Restore replaces the content of a shard this node leads with the
// replica snapshot file at path (see replica.WriteSnapshot): the snapshot
// recovery of the snapshots API. The file is consumed. The restored
// replica's log is rebased past everything this primary had logged, at
// its term, so every follower receives a full copy of the restored
// content (its log can no longer continue from the primary's). Writes
// acknowledged before Restore are replaced by the snapshot's content;
// writes in flight meanwhile fail and are retried by the router.
//
// It fails with ErrNotPrimary on a node that does not lead the shard, and
// leaves the replica untouched when the file is not a usable snapshot of
// the collection (replica.ErrBadSnapshot).
func (c *Coordinator) Restore(ctx context.Context, ref *shoalv1.ShardRef, path string) (replica.SnapshotInfo, error) {
	k := groupKeyOf(ref)
	c.mu.Lock()
	g, ok := c.groups[k]
	c.mu.Unlock()
	if !ok {
		return replica.SnapshotInfo{}, fmt.Errorf("restore shard %s: node %d: %w", k, c.cfg.NodeID, ErrNotPrimary)
	}
	_, before := g.r.LastApplied()
	r, info, err := c.cfg.Replicas.Restore(ctx, ref, path)
	if err != nil {
		return info, err
	}
	base := replica.Position{Term: g.term, Seq: max(before, info.Position.Seq) + 1}
	if err := r.Rebase(ctx, base); err != nil {
		return info, fmt.Errorf("restore shard %s: %w", k, err)
	}
	c.log.Info().Stringer("shard", k).Uint64("snapshot_seq", info.Position.Seq).Uint64("points", info.Points).
		Uint64("rebased_to", base.Seq).Msg("shard restored from a snapshot; followers get full copies")
	// The group holds the closed replica: the coordinator's next full
	// reconcile replaces it (one may be running already: wait for two).
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for range 2 {
		c.mu.Lock()
		done := c.reconciled
		c.mu.Unlock()
		select {
		case <-done:
		case <-wctx.Done():
			return info, nil // the loop replaces the group in any case
		}
	}
	return info, nil
}
