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
// the file (replica.CheckSnapshot) and syncs it before touching anything,
// then closes the open replica, moves the file into its place and opens
// it (see replace). The file at path is consumed (moved, or copied and
// removed when it lies on another file system). Requests that held the
// old replica fail with replica.ErrClosed. The replica must be held (see
// Replica); ctx bounds the wait for it.
//
// The vector names the file holds win over the old replica's (as on any
// reopen): a copy from the shard's primary carries the vector names in
// force at its position. A file that fails the checks leaves the old
// replica as it was.
func (m *Manager) Restore(ctx context.Context, ref *shoalv1.ShardRef, path string) (*replica.Replica, replica.SnapshotInfo, error) {
	info, err := replica.CheckSnapshot(path)
	if err != nil {
		return nil, info, fmt.Errorf("restore %s/%d: %w", ref.GetCollection(), ref.GetShardId(), err)
	}
	if err := syncFile(path); err != nil {
		return nil, info, fmt.Errorf("restore %s/%d: %w", ref.GetCollection(), ref.GetShardId(), err)
	}
	r, err := m.replace(ctx, ref, "restored from a snapshot", func(dst string) error { return moveFile(path, dst) })
	if err != nil {
		return nil, info, err
	}
	m.log.Info().Str("collection", ref.GetCollection()).Uint32("shard", ref.GetShardId()).
		Uint64("term", info.Position.Term).Uint64("seq", info.Position.Seq).Uint64("points", info.Points).
		Msg("snapshot position")
	return r, info, nil
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
