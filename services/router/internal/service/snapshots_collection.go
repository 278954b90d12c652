package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/snapshots"
	"google.golang.org/protobuf/proto"
)

func (s *Service) records() (*snapshots.Records, error) {
	if s.opt.Snapshots.Records == nil {
		return nil, apierr.Unsupported("collection snapshots (no snapshot record store configured)")
	}
	return s.opt.Snapshots.Records, nil
}

// CreateSnapshot takes a collection snapshot: one shard snapshot file per
// shard, each on the shard's primary, then the record with the manifest
// and the size and sha256 of the tar a download streams (computed here by
// streaming it once). On failure the files taken so far are deleted.
func (s *Service) CreateSnapshot(ctx context.Context, collection string) (SnapshotDescription, error) {
	rec, err := s.createCollectionSnapshot(ctx, collection, "")
	return rec.Description, err
}

func (s *Service) createCollectionSnapshot(ctx context.Context, collection, full string) (snapshots.CollectionRecord, error) {
	recs, err := s.records()
	if err != nil {
		return snapshots.CollectionRecord{}, err
	}
	c, err := s.resolve(collection)
	if err != nil {
		return snapshots.CollectionRecord{}, err
	}
	if c.Custom() {
		return snapshots.CollectionRecord{}, apierr.Unsupported("snapshots of collections with custom sharding")
	}
	now := time.Now().UTC()
	m := snapshots.Manifest{
		Format: snapshots.FormatVersion, Collection: c.Name(), Created: now,
		Name: fmt.Sprintf("%s-%d-%s.snapshot", c.Name(), s.opt.NodeID, now.Format(snapshotTimeFormat)),
	}
	if err := m.SetConfig(c.Meta.GetConfig()); err != nil {
		return snapshots.CollectionRecord{}, apierr.Wrap(err, "Service internal error: create snapshot")
	}
	shards := append([]*shoalv1.Shard(nil), c.Map.GetShards()...)
	sort.Slice(shards, func(i, j int) bool { return shards[i].GetId() < shards[j].GetId() })
	ok := false
	defer func() {
		if !ok {
			s.deleteParts(context.WithoutCancel(ctx), m)
		}
	}()
	for _, sh := range shards {
		f, err := s.createShardFile(ctx, c, sh, m.Name+partSuffix)
		if err != nil {
			return snapshots.CollectionRecord{}, err
		}
		m.Shards = append(m.Shards, snapshots.Shard{
			ID: sh.GetId(), Node: f.GetNode(), File: f.GetName(), Size: f.GetSize(), Checksum: f.GetChecksum(),
			Term: f.GetTerm(), Seq: f.GetSeq(),
		})
	}
	size, sum, err := snapshots.Measure(func(w io.Writer) error {
		return snapshots.WriteCollection(w, m, s.partOpener(ctx, m.Collection))
	})
	if err != nil {
		return snapshots.CollectionRecord{}, apierr.FromConnect(err, "create snapshot")
	}
	rec := snapshots.CollectionRecord{
		Description: snapshots.Description{Name: m.Name, Created: now, Size: size, Checksum: sum},
		Manifest:    m, Full: full,
	}
	created, err := recs.PutCollection(ctx, rec)
	if err != nil {
		return rec, apierr.NoService("create snapshot: %v", err)
	}
	if !created {
		return rec, apierr.Exists("Snapshot %s already exists", m.Name)
	}
	ok = true
	s.opt.Log.Info().Str("collection", c.Name()).Str("snapshot", m.Name).Uint64("size", size).Msg("collection snapshot created")
	return rec, nil
}

// partOpener opens the shard parts of a manifest on their nodes.
func (s *Service) partOpener(ctx context.Context, collection string) func(snapshots.Shard) (io.ReadCloser, error) {
	return func(sh snapshots.Shard) (io.ReadCloser, error) {
		return s.openShardFile(ctx, sh.Node, &shoalv1.ShardRef{Collection: collection, ShardId: sh.ID}, sh.File), nil
	}
}

// deleteParts deletes a collection snapshot's shard files, logging the
// ones it cannot.
func (s *Service) deleteParts(ctx context.Context, m snapshots.Manifest) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, sh := range m.Shards {
		ref := &shoalv1.ShardRef{Collection: m.Collection, ShardId: sh.ID}
		if err := s.deleteShardFile(ctx, sh.Node, ref, sh.File); err != nil && apierr.KindOf(err) != apierr.NotFound {
			s.opt.Log.Warn().Err(err).Str("collection", m.Collection).Uint32("shard", sh.ID).Uint64("node", sh.Node).
				Str("file", sh.File).Msg("could not delete a snapshot file; it stays on the node")
		}
	}
}

// ListSnapshots lists a collection's snapshots by name.
func (s *Service) ListSnapshots(ctx context.Context, collection string) ([]SnapshotDescription, error) {
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	c, err := s.resolve(collection)
	if err != nil {
		return nil, err
	}
	all, err := recs.ListCollection(ctx, c.Name())
	if err != nil {
		return nil, apierr.NoService("list snapshots: %v", err)
	}
	out := []SnapshotDescription{}
	for _, r := range all {
		if r.Full == "" {
			out = append(out, r.Description)
		}
	}
	return out, nil
}

// collectionRecord reads a collection snapshot's record; NotFound if it
// does not exist (or belongs to a full snapshot).
func (s *Service) collectionRecord(ctx context.Context, collection, name string) (snapshots.CollectionRecord, error) {
	recs, err := s.records()
	if err != nil {
		return snapshots.CollectionRecord{}, err
	}
	c, err := s.resolve(collection)
	if err != nil {
		return snapshots.CollectionRecord{}, err
	}
	rec, ok, err := recs.GetCollection(ctx, c.Name(), name)
	if err != nil {
		return rec, apierr.NoService("read snapshot: %v", err)
	}
	if !ok || rec.Full != "" {
		return rec, snapshotNotFound(name)
	}
	return rec, nil
}

// DeleteSnapshot deletes a collection snapshot: its record first (it is
// no longer listed), then its shard files, as far as their nodes answer.
func (s *Service) DeleteSnapshot(ctx context.Context, collection, name string) error {
	rec, err := s.collectionRecord(ctx, collection, name)
	if err != nil {
		return err
	}
	return s.deleteCollectionRecord(ctx, rec)
}

func (s *Service) deleteCollectionRecord(ctx context.Context, rec snapshots.CollectionRecord) error {
	deleted, err := s.opt.Snapshots.Records.DeleteCollection(ctx, rec.Manifest.Collection, rec.Name)
	if err != nil {
		return apierr.NoService("delete snapshot: %v", err)
	}
	if !deleted {
		return snapshotNotFound(rec.Name)
	}
	s.deleteParts(ctx, rec.Manifest)
	return nil
}

// OpenSnapshot describes a collection snapshot and returns the function
// that streams its tar.
func (s *Service) OpenSnapshot(ctx context.Context, collection, name string) (SnapshotDescription, func(io.Writer) error, error) {
	rec, err := s.collectionRecord(ctx, collection, name)
	if err != nil {
		return SnapshotDescription{}, nil, err
	}
	return rec.Description, func(w io.Writer) error {
		return snapshots.WriteCollection(w, rec.Manifest, s.partOpener(ctx, rec.Manifest.Collection))
	}, nil
}

// RecoverSnapshot recovers collection from the collection snapshot file
// at path (an upload or a fetched location, fully received): it checks
// checksum (when given) against the file, reads the whole tar once to
// check every shard against the manifest, creates the collection from
// the manifest's config if it does not exist (an existing one must have
// the same shards and vectors), then sends each shard's file to the
// shard's primary, which checks it again and restores every replica from
// it (retrying while a shard has no primary ready). Nothing is changed
// unless the file is whole and matches.
func (s *Service) RecoverSnapshot(ctx context.Context, collection, path, checksum string) error {
	if err := checkName(collection); err != nil {
		return err
	}
	if checksum != "" {
		sum, err := fileSHA256(path)
		if err != nil {
			return apierr.Wrap(err, "Service internal error: recover snapshot")
		}
		if !equalFoldHex(sum, checksum) {
			return apierr.New(apierr.BadRequest, "Bad request: Snapshot checksum mismatch: expected %s, got %s", checksum, sum)
		}
	}
	m, err := readSnapshotFile(path, nil)
	if err != nil {
		return err
	}
	cfg, err := m.CollectionConfig()
	if err != nil {
		return badSnapshot(err)
	}
	if cfg.GetShardingMethod() == shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM {
		return apierr.Unsupported("recovering collections with custom sharding")
	}
	c, err := s.recoveryTarget(ctx, collection, m, cfg)
	if err != nil {
		return err
	}
	for _, sh := range m.Shards {
		err := s.sendShard(ctx, c.Name(), sh.ID, sh.Checksum, func() (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			return readCloser{io.NewSectionReader(f, sh.Offset, int64(sh.Size)), f}, nil
		})
		if err != nil {
			return err
		}
	}
	s.opt.Log.Info().Str("collection", c.Name()).Str("snapshot", m.Name).Int("shards", len(m.Shards)).Msg("collection recovered from snapshot")
	return nil
}

// recoveryTarget returns the collection a recovery writes to, creating it
// from the manifest's config when it does not exist.
func (s *Service) recoveryTarget(ctx context.Context, name string, m snapshots.Manifest, cfg *shoalv1.CollectionConfig) (*routing.Collection, error) {
	c, err := s.resolve(name)
	if apierr.KindOf(err) == apierr.NotFound {
		cfg = proto.Clone(cfg).(*shoalv1.CollectionConfig)
		cfg.ShardNumber = uint32(len(m.Shards))
		var uid string
		err = s.callMeta(ctx, "create collection", func(cl shoalv1connect.MetaServiceClient) error {
			r, err := cl.CreateCollection(ctx, connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: name, Config: cfg}))
			if err == nil {
				uid = r.Msg.GetCollection().GetUid()
			}
			return err
		})
		if err != nil && apierr.KindOf(err) != apierr.Conflict {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, max(s.opt.SettleTimeout, time.Minute))
		err = s.waitFor(wctx, func() bool { return s.settled(name, uid) })
		cancel()
		if err != nil {
			return nil, apierr.NoService("recover snapshot: collection `%s` was created but its replicas did not start: %v", name, err)
		}
		if c, err = s.resolve(name); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if c.Custom() {
		return nil, apierr.BadInput("Collection `%s` uses custom sharding; the snapshot does not", c.Name())
	}
	if got := len(c.Map.GetShards()); got != len(m.Shards) {
		return nil, apierr.BadInput("Collection `%s` has %d shards, the snapshot %d", c.Name(), got, len(m.Shards))
	}
	for _, sh := range m.Shards {
		if _, err := c.Shard(sh.ID); err != nil {
			return nil, apierr.BadInput("Collection `%s` has no shard %d, which the snapshot holds", c.Name(), sh.ID)
		}
	}
	want := map[string]*shoalv1.VectorParams{}
	for k, v := range cfg.GetVectors() {
		want[k] = v
	}
	have := c.Meta.GetConfig().GetVectors()
	if len(have) != len(want) {
		return nil, apierr.BadInput("Collection `%s` has other vectors than the snapshot", c.Name())
	}
	for k, v := range want {
		h, ok := have[k]
		if !ok || h.GetSize() != v.GetSize() || h.GetDistance() != v.GetDistance() {
			return nil, apierr.BadInput("Collection `%s` has other vectors than the snapshot (vector %q)", c.Name(), k)
		}
	}
	return c, nil
}

// settled reports whether collection (of uid, when known) is in the local
// state with every replica past Initializing.
func (s *Service) settled(name, uid string) bool {
	c, m, ok := s.opt.State.Collection(name)
	if !ok || (uid != "" && c.GetUid() != uid) {
		return false
	}
	for _, sh := range m.GetShards() {
		for _, rep := range sh.GetReplicas() {
			st := rep.GetState()
			if st == shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING || st == shoalv1.ReplicaState_REPLICA_STATE_UNSPECIFIED {
				return false
			}
		}
	}
	return true
}

// readCloser reads a section of a file and closes the file.
type readCloser struct {
	io.Reader
	io.Closer
}

// badSnapshot maps a bad file to Qdrant's 400.
func badSnapshot(err error) error {
	if errors.Is(err, snapshots.ErrBadFile) {
		return apierr.New(apierr.BadRequest, "Bad request: %v", err)
	}
	return err
}
