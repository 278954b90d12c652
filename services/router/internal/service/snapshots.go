package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/snapshots"
)

// SnapshotOptions configure snapshots (docs/DESIGN.md §13).
type SnapshotOptions struct {
	// Records keeps collection and full snapshot records (etcd); nil
	// leaves only shard snapshots available.
	Records *snapshots.Records
	// LocalDir is the only directory a file:// recovery location may
	// name a file in (storage.snapshots_path); empty refuses file://.
	LocalDir string
	// TempDir holds uploaded and fetched snapshots while they are checked
	// and recovered; empty is the system's.
	TempDir string
	// HTTPClient fetches http(s) recovery locations; nil is a client
	// without a total timeout (the request's deadline applies).
	HTTPClient *http.Client
}

// SnapshotDescription is Qdrant's SnapshotDescription.
type SnapshotDescription = snapshots.Description

// partSuffix ends the storage file name of a collection snapshot's shard
// part; shard snapshot lists leave such files out.
const partSuffix = ".part"

// snapshotTimeFormat is the time in generated snapshot names.
const snapshotTimeFormat = "2006-01-02-15-04-05.000000"

func shardSnapshotDescription(m *shoalv1.ShardSnapshot) SnapshotDescription {
	return SnapshotDescription{
		Name: m.GetName(), Size: m.GetSize(), Checksum: m.GetChecksum(),
		Created: time.UnixMilli(m.GetCreatedUnixMs()).UTC(),
	}
}

// snapshotNotFound is Qdrant's 404 for a missing snapshot.
func snapshotNotFound(name string) error {
	return apierr.New(apierr.NotFound, "Not found: Snapshot %s does not exist", name)
}

// snapshotShard resolves a collection and one of its shards.
func (s *Service) snapshotShard(collection string, shard uint32) (*routing.Collection, *shoalv1.Shard, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return nil, nil, err
	}
	for _, sh := range c.Map.GetShards() {
		if sh.GetId() == shard {
			return c, sh, nil
		}
	}
	return nil, nil, apierr.New(apierr.NotFound, "Not found: Shard %d does not exist in collection `%s`", shard, c.Name())
}

// shardNodes are the nodes holding a replica of sh, primary first.
func shardNodes(sh *shoalv1.Shard) []uint64 {
	out := []uint64{}
	if p := sh.GetPrimary(); p != 0 {
		out = append(out, p)
	}
	for _, r := range sh.GetReplicas() {
		if r.GetNodeId() != sh.GetPrimary() {
			out = append(out, r.GetNodeId())
		}
	}
	return out
}

// CreateShardSnapshot has the shard's primary copy its replica into a new
// snapshot file.
func (s *Service) CreateShardSnapshot(ctx context.Context, collection string, shard uint32) (SnapshotDescription, error) {
	c, sh, err := s.snapshotShard(collection, shard)
	if err != nil {
		return SnapshotDescription{}, err
	}
	m, err := s.createShardFile(ctx, c, sh, "")
	if err != nil {
		return SnapshotDescription{}, err
	}
	return shardSnapshotDescription(m), nil
}

// createShardFile creates a snapshot file of sh on its primary.
func (s *Service) createShardFile(ctx context.Context, c *routing.Collection, sh *shoalv1.Shard, name string) (*shoalv1.ShardSnapshot, error) {
	if sh.GetPrimary() == 0 {
		return nil, apierr.NoService("shard %d of collection `%s` has no primary", sh.GetId(), c.Name())
	}
	cl, err := s.opt.Router.ReplicaClient(sh.GetPrimary())
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("create snapshot of shard %d", sh.GetId())
	resp, err := cl.CreateShardSnapshot(ctx, connect.NewRequest(&shoalv1.CreateShardSnapshotRequest{Shard: c.Ref(sh.GetId()), Name: name}))
	if err != nil {
		return nil, apierr.FromConnect(err, what)
	}
	return resp.Msg, nil
}

// ListShardSnapshots lists the shard's snapshot files on every node that
// holds one of its replicas (a snapshot stays on the node that was
// primary when it was taken), sorted by name. Nodes that do not answer
// are left out, unless none does.
func (s *Service) ListShardSnapshots(ctx context.Context, collection string, shard uint32) ([]SnapshotDescription, error) {
	c, sh, err := s.snapshotShard(collection, shard)
	if err != nil {
		return nil, err
	}
	found, err := s.shardFiles(ctx, c, sh)
	if err != nil {
		return nil, err
	}
	out := make([]SnapshotDescription, 0, len(found))
	for _, f := range found {
		out = append(out, shardSnapshotDescription(f))
	}
	return out, nil
}

// shardFiles lists the shard snapshot files (not collection snapshot
// parts) held by the shard's nodes, by name; the first node listing a
// name wins.
func (s *Service) shardFiles(ctx context.Context, c *routing.Collection, sh *shoalv1.Shard) ([]*shoalv1.ShardSnapshot, error) {
	byName := map[string]*shoalv1.ShardSnapshot{}
	var answered int
	var last error
	for _, node := range shardNodes(sh) {
		cl, err := s.opt.Router.ReplicaClient(node)
		if err != nil {
			last = err
			continue
		}
		resp, err := cl.ListShardSnapshots(ctx, connect.NewRequest(&shoalv1.ListShardSnapshotsRequest{Shard: c.Ref(sh.GetId())}))
		if err != nil {
			last = apierr.FromConnect(err, "list shard snapshots")
			continue
		}
		answered++
		for _, f := range resp.Msg.GetSnapshots() {
			if _, ok := byName[f.GetName()]; !ok && !strings.HasSuffix(f.GetName(), partSuffix) {
				byName[f.GetName()] = f
			}
		}
	}
	if answered == 0 && last != nil {
		return nil, last
	}
	out := make([]*shoalv1.ShardSnapshot, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// findShardFile finds the shard snapshot name (names carry the node id,
// so one node holds it); NotFound if no node lists it.
func (s *Service) findShardFile(ctx context.Context, c *routing.Collection, sh *shoalv1.Shard, name string) ([]*shoalv1.ShardSnapshot, error) {
	files, err := s.shardFiles(ctx, c, sh)
	if err != nil {
		return nil, err
	}
	var out []*shoalv1.ShardSnapshot
	for _, f := range files {
		if f.GetName() == name {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, snapshotNotFound(name)
	}
	return out, nil
}

// DeleteShardSnapshot deletes a shard snapshot file from the node that
// holds it; NotFound if none does.
func (s *Service) DeleteShardSnapshot(ctx context.Context, collection string, shard uint32, name string) error {
	c, sh, err := s.snapshotShard(collection, shard)
	if err != nil {
		return err
	}
	files, err := s.findShardFile(ctx, c, sh, name)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := s.deleteShardFile(ctx, f.GetNode(), c.Ref(sh.GetId()), name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) deleteShardFile(ctx context.Context, node uint64, ref *shoalv1.ShardRef, name string) error {
	cl, err := s.opt.Router.ReplicaClient(node)
	if err != nil {
		return err
	}
	_, err = cl.DeleteShardSnapshot(ctx, connect.NewRequest(&shoalv1.DeleteShardSnapshotRequest{Shard: ref, Name: name}))
	return apierr.FromConnect(err, "delete shard snapshot")
}

// OpenShardSnapshot describes a shard snapshot and returns the function
// that streams its bytes.
func (s *Service) OpenShardSnapshot(ctx context.Context, collection string, shard uint32, name string) (SnapshotDescription, func(io.Writer) error, error) {
	c, sh, err := s.snapshotShard(collection, shard)
	if err != nil {
		return SnapshotDescription{}, nil, err
	}
	files, err := s.findShardFile(ctx, c, sh, name)
	if err != nil {
		return SnapshotDescription{}, nil, err
	}
	f := files[0]
	ref := c.Ref(sh.GetId())
	return shardSnapshotDescription(f), func(w io.Writer) error {
		return s.downloadShardFile(ctx, f.GetNode(), ref, name, w)
	}, nil
}

// StreamShardSnapshot takes a shard snapshot, streams it to the writer
// open returns (after the snapshot exists, so errors before it are still
// API errors) and deletes it.
func (s *Service) StreamShardSnapshot(ctx context.Context, collection string, shard uint32, open func(SnapshotDescription) io.Writer) error {
	c, sh, err := s.snapshotShard(collection, shard)
	if err != nil {
		return err
	}
	f, err := s.createShardFile(ctx, c, sh, "")
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := s.deleteShardFile(dctx, f.GetNode(), c.Ref(sh.GetId()), f.GetName()); err != nil {
			s.opt.Log.Warn().Err(err).Str("snapshot", f.GetName()).Msg("could not delete a streamed shard snapshot")
		}
	}()
	return s.downloadShardFile(ctx, f.GetNode(), c.Ref(sh.GetId()), f.GetName(), open(shardSnapshotDescription(f)))
}

// downloadShardFile streams a snapshot file of node to w.
func (s *Service) downloadShardFile(ctx context.Context, node uint64, ref *shoalv1.ShardRef, name string, w io.Writer) error {
	cl, err := s.opt.Router.ReplicaClient(node)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cl.DownloadShardSnapshot(ctx, connect.NewRequest(&shoalv1.DownloadShardSnapshotRequest{Shard: ref, Name: name}))
	if err != nil {
		return apierr.FromConnect(err, "download shard snapshot")
	}
	defer stream.Close()
	for stream.Receive() {
		if _, err := w.Write(stream.Msg().GetData()); err != nil {
			return fmt.Errorf("write snapshot %s: %w", name, err)
		}
	}
	return apierr.FromConnect(stream.Err(), "download shard snapshot")
}

// openShardFile returns a reader of a snapshot file of node; closing it
// ends the download.
func (s *Service) openShardFile(ctx context.Context, node uint64, ref *shoalv1.ShardRef, name string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(s.downloadShardFile(ctx, node, ref, name, pw))
	}()
	return pr
}

// snapshotChunkBytes is the size of the chunks sent to a storage node.
const snapshotChunkBytes = 256 << 10

// RecoverShardSnapshot sends the shard snapshot file at path (received in
// full) to the shard's primary, which checks it (checksum, when given,
// and its content) and replaces every replica of the shard with it. A bad
// file is a 400 and changes nothing.
func (s *Service) RecoverShardSnapshot(ctx context.Context, collection string, shard uint32, path, checksum string) error {
	if _, _, err := s.snapshotShard(collection, shard); err != nil {
		return err
	}
	return s.sendShard(ctx, s.resolveName(collection), shard, checksum, func() (io.ReadCloser, error) {
		return os.Open(path)
	})
}

// recoverRetryFor bounds how long a shard recovery keeps retrying while
// the shard has no primary ready to take it (just created, failing over).
const recoverRetryFor = time.Minute

// sendShard sends the file open returns to the shard's primary with
// recoverShard, opening it again for every attempt: attempts that fail
// with Unavailable (no primary yet, a primary not ready or gone) are
// retried on the shard's current primary for up to recoverRetryFor.
func (s *Service) sendShard(ctx context.Context, collection string, shard uint32, checksum string, open func() (io.ReadCloser, error)) error {
	deadline := time.Now().Add(recoverRetryFor)
	delay := 100 * time.Millisecond
	for {
		changed := s.opt.State.Changed()
		c, sh, err := s.snapshotShard(collection, shard)
		if err == nil {
			var rc io.ReadCloser
			if rc, err = open(); err != nil {
				return apierr.Wrap(err, "Service internal error: open received snapshot")
			}
			err = s.recoverShard(ctx, c, sh, rc, checksum)
			_ = rc.Close()
		}
		if err == nil || apierr.KindOf(err) != apierr.Unavailable || time.Now().After(deadline) {
			return err
		}
		s.opt.Log.Debug().Err(err).Str("collection", collection).Uint32("shard", shard).Msg("shard recovery retried")
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-changed:
		case <-t.C:
		}
		t.Stop()
		delay = min(2*delay, time.Second)
	}
}

func (s *Service) recoverShard(ctx context.Context, c *routing.Collection, sh *shoalv1.Shard, r io.Reader, checksum string) error {
	what := fmt.Sprintf("recover shard %d", sh.GetId())
	if sh.GetPrimary() == 0 {
		return apierr.NoService("%s of collection `%s`: the shard has no primary", what, c.Name())
	}
	cl, err := s.opt.Router.ReplicaClient(sh.GetPrimary())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := cl.RecoverShardSnapshot(ctx)
	msg := &shoalv1.RecoverShardSnapshotRequest{Shard: c.Ref(sh.GetId()), Checksum: checksum}
	buf := make([]byte, snapshotChunkBytes)
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 || msg.Shard != nil {
			msg.Data = buf[:n]
			if err := stream.Send(msg); err != nil {
				break // the answer below says why
			}
			msg = &shoalv1.RecoverShardSnapshotRequest{}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			cancel()
			_, _ = stream.CloseAndReceive()
			if apierr.As(rerr).Kind != apierr.Internal {
				return rerr
			}
			return apierr.New(apierr.BadRequest, "Bad request: %s: reading the snapshot: %v", what, rerr)
		}
	}
	if _, err := stream.CloseAndReceive(); err != nil {
		return apierr.FromConnect(err, what)
	}
	return nil
}
