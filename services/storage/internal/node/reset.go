package node

import (
	"context"
	"fmt"
	"os"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// Reset replaces the replica ref names with an empty one: it closes the
// open replica, deletes its file and opens a fresh file in its place. A
// full resync from the shard's primary (Install) starts with it. Requests
// that held the old replica fail with replica.ErrClosed. The replica must
// be held (see Replica); ctx bounds the wait for it.
func (m *Manager) Reset(ctx context.Context, ref *shoalv1.ShardRef) (*replica.Replica, error) {
	old, err := m.Replica(ctx, ref)
	if err != nil {
		return nil, err
	}
	key := shardKey{ref.GetCollection(), ref.GetShardId()}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.replicas[key]
	if m.closed {
		return nil, replica.ErrClosed
	}
	if !ok || h.r != old {
		return nil, fmt.Errorf("reset %s: replica changed meanwhile: %w", key, replica.ErrClosed)
	}
	cfg, path := old.Config(), old.Path()
	if err := old.Close(); err != nil {
		m.log.Warn().Err(err).Stringer("replica", key).Msg("close replica before reset")
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reset %s: %w", key, err)
	}
	log := m.log.With().Str("collection", key.collection).Str("uid", h.uid).Uint32("shard", key.shard).Logger()
	fresh, err := replica.OpenWithOptions(path, cfg, log, m.cfg.Replica)
	if err != nil {
		delete(m.replicas, key)
		m.reopen.Store(true)
		m.notifyLocked()
		return nil, fmt.Errorf("reset %s: reopen: %w", key, err)
	}
	fresh.SetTerm(old.Term())
	h.r = fresh
	m.notifyLocked()
	log.Info().Str("path", path).Msg("replica reset for a full resync")
	return fresh, nil
}
