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
	return m.replace(ctx, ref, "reset for a full resync", func(path string) error {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	})
}

// replace closes the replica ref names, lets swap change the file at its
// path, and opens that path again (keeping the replica's term). An error
// after the old replica closed leaves no replica open: the manager
// reopens whatever file is in place on its next reconcile.
func (m *Manager) replace(ctx context.Context, ref *shoalv1.ShardRef, what string, swap func(path string) error) (*replica.Replica, error) {
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
		return nil, fmt.Errorf("%s %s: replica changed meanwhile: %w", what, key, replica.ErrClosed)
	}
	cfg, path := old.Config(), old.Path()
	if err := old.Close(); err != nil {
		m.log.Warn().Err(err).Stringer("replica", key).Msg("close replica before " + what)
	}
	log := m.log.With().Str("collection", key.collection).Str("uid", h.uid).Uint32("shard", key.shard).Logger()
	fail := func(err error) (*replica.Replica, error) {
		delete(m.replicas, key)
		m.reopen.Store(true)
		m.notifyLocked()
		return nil, fmt.Errorf("%s %s: %w", what, key, err)
	}
	if err := swap(path); err != nil {
		return fail(err)
	}
	fresh, err := replica.OpenWithOptions(path, cfg, log, m.cfg.Replica)
	if err != nil {
		return fail(fmt.Errorf("reopen: %w", err))
	}
	fresh.SetTerm(old.Term())
	h.r = fresh
	m.notifyLocked()
	log.Info().Str("path", path).Msg("replica " + what)
	return fresh, nil
}
