package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// Restore replaces the replica ref names with the replica file at path (a
// snapshot written by replica.WriteSnapshot, received whole): it checks
// the file (replica.CheckSnapshot) before touching anything, then closes the open replica, moves
// the file into its place and opens it. The file at path is consumed
// (moved, or copied and removed when it lies on another file system).
// Requests that held the old replica fail with replica.ErrClosed. The
// replica must be held (see Replica); ctx bounds the wait for it.
//
// The vector names the file holds win over the old replica's (as on any
// reopen): a copy from the shard's primary carries the vector names in
// force at its position. A file that fails the checks leaves the old
// replica as it was; an error
// after the old replica closed (moving or opening the new file) leaves no
// replica open: the manager reopens whatever file is in place on its next
// reconcile.
func (m *Manager) Restore(ctx context.Context, ref *shoalv1.ShardRef, path string) (*replica.Replica, replica.SnapshotInfo, error) {
	old, err := m.Replica(ctx, ref)
	if err != nil {
		return nil, replica.SnapshotInfo{}, err
	}
	key := shardKey{ref.GetCollection(), ref.GetShardId()}
	info, err := replica.CheckSnapshot(path)
	if err != nil {
		return nil, info, fmt.Errorf("restore %s: %w", key, err)
	}
	if err := syncFile(path); err != nil {
		return nil, info, fmt.Errorf("restore %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.replicas[key]
	if m.closed {
		return nil, info, replica.ErrClosed
	}
	if !ok || h.r != old {
		return nil, info, fmt.Errorf("restore %s: replica changed meanwhile: %w", key, replica.ErrClosed)
	}
	cfg, dst := old.Config(), old.Path()
	if err := old.Close(); err != nil {
		m.log.Warn().Err(err).Stringer("replica", key).Msg("close replica before restore")
	}
	log := m.log.With().Str("collection", key.collection).Str("uid", h.uid).Uint32("shard", key.shard).Logger()
	fail := func(err error) (*replica.Replica, replica.SnapshotInfo, error) {
		delete(m.replicas, key)
		m.reopen.Store(true)
		m.notifyLocked()
		return nil, info, fmt.Errorf("restore %s: %w", key, err)
	}
	if err := moveFile(path, dst); err != nil {
		return fail(err)
	}
	fresh, err := replica.OpenWithOptions(dst, cfg, log, m.cfg.Replica)
	if err != nil {
		return fail(fmt.Errorf("open restored file: %w", err))
	}
	fresh.SetTerm(old.Term())
	h.r = fresh
	m.notifyLocked()
	log.Info().Uint64("term", info.Position.Term).Uint64("seq", info.Position.Seq).Uint64("points", info.Points).
		Msg("replica restored from a snapshot")
	return fresh, info, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// moveFile renames src to dst (replacing it), copying when they lie on
// different file systems, and syncs dst's directory.
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		if err := copyFile(src, dst); err != nil {
			return fmt.Errorf("move %s to %s: %w", src, dst, err)
		}
		_ = os.Remove(src)
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".restoring"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
