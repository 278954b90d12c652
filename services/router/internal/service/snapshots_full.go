package service

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/snapshots"
)

// CreateFullSnapshot takes a snapshot of every collection (each a
// collection snapshot that belongs to this full snapshot and is not
// listed on its own) and records the full snapshot with the size and
// sha256 of its tar. On failure the collection snapshots taken so far are
// deleted.
func (s *Service) CreateFullSnapshot(ctx context.Context) (SnapshotDescription, error) {
	recs, err := s.records()
	if err != nil {
		return SnapshotDescription{}, err
	}
	now := time.Now().UTC()
	m := snapshots.FullManifest{
		Format: snapshots.FormatVersion, Created: now,
		Name: fmt.Sprintf("full-snapshot-%s.snapshot", now.Format(snapshotTimeFormat)),
	}
	var names []string
	for _, c := range s.opt.State.Collections() {
		names = append(names, c.GetName())
	}
	sort.Strings(names)
	var taken []snapshots.CollectionRecord
	ok := false
	defer func() {
		if !ok {
			for _, rec := range taken {
				_ = s.deleteCollectionRecord(context.WithoutCancel(ctx), rec)
			}
		}
	}()
	for _, name := range names {
		rec, err := s.createCollectionSnapshot(ctx, name, m.Name)
		if apierr.KindOf(err) == apierr.NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return SnapshotDescription{}, err
		}
		taken = append(taken, rec)
		m.Collections = append(m.Collections, snapshots.FullEntry{
			Collection: rec.Manifest.Collection, Snapshot: rec.Name, Size: rec.Size, Checksum: rec.Checksum,
		})
	}
	size, sum, err := snapshots.Measure(func(w io.Writer) error { return s.writeFull(ctx, w, m) })
	if err != nil {
		return SnapshotDescription{}, apierr.FromConnect(err, "create full snapshot")
	}
	rec := snapshots.FullRecord{Description: snapshots.Description{Name: m.Name, Created: now, Size: size, Checksum: sum}, Manifest: m}
	created, err := recs.PutFull(ctx, rec)
	if err != nil {
		return SnapshotDescription{}, apierr.NoService("create full snapshot: %v", err)
	}
	if !created {
		return SnapshotDescription{}, apierr.Exists("Snapshot %s already exists", m.Name)
	}
	ok = true
	s.opt.Log.Info().Str("snapshot", m.Name).Int("collections", len(m.Collections)).Uint64("size", size).Msg("full snapshot created")
	return rec.Description, nil
}

func (s *Service) writeFull(ctx context.Context, w io.Writer, m snapshots.FullManifest) error {
	return snapshots.WriteFull(w, m, func(e snapshots.FullEntry, w io.Writer) error {
		rec, ok, err := s.opt.Snapshots.Records.GetCollection(ctx, e.Collection, e.Snapshot)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("collection snapshot %s of %s is gone", e.Snapshot, e.Collection)
		}
		return snapshots.WriteCollection(w, rec.Manifest, s.partOpener(ctx, e.Collection))
	})
}

// ListFullSnapshots lists the full snapshots by name.
func (s *Service) ListFullSnapshots(ctx context.Context) ([]SnapshotDescription, error) {
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	all, err := recs.ListFull(ctx)
	if err != nil {
		return nil, apierr.NoService("list snapshots: %v", err)
	}
	out := make([]SnapshotDescription, 0, len(all))
	for _, r := range all {
		out = append(out, r.Description)
	}
	return out, nil
}

func (s *Service) fullRecord(ctx context.Context, name string) (snapshots.FullRecord, error) {
	recs, err := s.records()
	if err != nil {
		return snapshots.FullRecord{}, err
	}
	rec, ok, err := recs.GetFull(ctx, name)
	if err != nil {
		return rec, apierr.NoService("read snapshot: %v", err)
	}
	if !ok {
		return rec, snapshotNotFound(name)
	}
	return rec, nil
}

// DeleteFullSnapshot deletes a full snapshot and the collection snapshots
// it consists of.
func (s *Service) DeleteFullSnapshot(ctx context.Context, name string) error {
	rec, err := s.fullRecord(ctx, name)
	if err != nil {
		return err
	}
	deleted, err := s.opt.Snapshots.Records.DeleteFull(ctx, name)
	if err != nil {
		return apierr.NoService("delete snapshot: %v", err)
	}
	if !deleted {
		return snapshotNotFound(name)
	}
	for _, e := range rec.Manifest.Collections {
		c, ok, err := s.opt.Snapshots.Records.GetCollection(ctx, e.Collection, e.Snapshot)
		if err != nil || !ok {
			continue
		}
		if err := s.deleteCollectionRecord(ctx, c); err != nil && apierr.KindOf(err) != apierr.NotFound {
			s.opt.Log.Warn().Err(err).Str("snapshot", e.Snapshot).Msg("could not delete a collection snapshot of a full snapshot")
		}
	}
	return nil
}

// OpenFullSnapshot describes a full snapshot and returns the function
// that streams its tar.
func (s *Service) OpenFullSnapshot(ctx context.Context, name string) (SnapshotDescription, func(io.Writer) error, error) {
	rec, err := s.fullRecord(ctx, name)
	if err != nil {
		return SnapshotDescription{}, nil, err
	}
	return rec.Description, func(w io.Writer) error { return s.writeFull(ctx, w, rec.Manifest) }, nil
}
