package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
	"github.com/shoaldb/shoal/services/storage/internal/snapshots"
)

// Restorer replaces a shard's replica with a snapshot file on the shard's
// primary, after which every follower re-syncs from it; elsewhere it
// fails with replication.ErrNotPrimary. *replication.Coordinator
// implements it.
type Restorer interface {
	Restore(ctx context.Context, ref *shoalv1.ShardRef, path string) (replica.SnapshotInfo, error)
}

// snapshotChunkBytes is the size of a DownloadShardSnapshot chunk.
const snapshotChunkBytes = 256 << 10

// WithSnapshots enables the shard snapshot RPCs: files kept in store,
// recoveries handed to restore, nodeID reported as the files' holder.
// Without it those RPCs answer Unimplemented. It returns s.
func (s *Server) WithSnapshots(store *snapshots.Store, restore Restorer, nodeID uint64) *Server {
	s.snaps, s.restore, s.nodeID = store, restore, nodeID
	return s
}

func (s *Server) snapshotStore(ref *shoalv1.ShardRef) error {
	if s.snaps == nil {
		return connect.NewError(connect.CodeUnimplemented, errors.New("snapshots are not enabled on this node"))
	}
	if ref == nil {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("shard is required"))
	}
	return nil
}

// snapshotErr maps the snapshot store's errors to Connect codes; others
// go through toConnect.
func (s *Server) snapshotErr(err error) error {
	switch {
	case errors.Is(err, snapshots.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, snapshots.ErrExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, snapshots.ErrInvalidName), errors.Is(err, snapshots.ErrChecksum), errors.Is(err, replica.ErrBadSnapshot):
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return s.toConnect(err)
}

func (s *Server) snapshotMsg(info snapshots.Info) *shoalv1.ShardSnapshot {
	return &shoalv1.ShardSnapshot{
		Name: info.Name, Size: info.Size, Checksum: info.Checksum, CreatedUnixMs: info.Created.UnixMilli(),
		Term: info.Term, Seq: info.Seq, Node: s.nodeID,
	}
}

// CreateShardSnapshot copies the replica this node holds into a new
// snapshot file (one read transaction: a consistent copy at one
// position). Any replica may be copied; the router asks the primary.
func (s *Server) CreateShardSnapshot(ctx context.Context, req *connect.Request[shoalv1.CreateShardSnapshotRequest]) (*connect.Response[shoalv1.ShardSnapshot], error) {
	ref := req.Msg.GetShard()
	if err := s.snapshotStore(ref); err != nil {
		return nil, err
	}
	r, err := s.replica(ctx, ref)
	if err != nil {
		return nil, err
	}
	name := req.Msg.GetName()
	if name == "" {
		name = snapshots.DefaultName(ref.GetCollection(), ref.GetShardId(), s.nodeID, time.Now())
	}
	info, err := s.snaps.Create(ctx, ref.GetCollection(), ref.GetShardId(), name, func(ctx context.Context, w io.Writer) (snapshots.Position, error) {
		pos, err := r.WriteSnapshot(ctx, w)
		return snapshots.Position{Term: pos.Term, Seq: pos.Seq}, err
	})
	if err != nil {
		return nil, s.snapshotErr(err)
	}
	s.log.Info().Str("collection", ref.GetCollection()).Uint32("shard", ref.GetShardId()).Str("snapshot", name).
		Uint64("size", info.Size).Uint64("seq", info.Seq).Msg("shard snapshot created")
	return connect.NewResponse(s.snapshotMsg(info)), nil
}

// ListShardSnapshots lists the shard's snapshot files on this node.
func (s *Server) ListShardSnapshots(ctx context.Context, req *connect.Request[shoalv1.ListShardSnapshotsRequest]) (*connect.Response[shoalv1.ListShardSnapshotsResponse], error) {
	ref := req.Msg.GetShard()
	if err := s.snapshotStore(ref); err != nil {
		return nil, err
	}
	list, err := s.snaps.List(ref.GetCollection(), ref.GetShardId())
	if err != nil {
		return nil, s.snapshotErr(err)
	}
	resp := &shoalv1.ListShardSnapshotsResponse{Snapshots: make([]*shoalv1.ShardSnapshot, 0, len(list))}
	for _, info := range list {
		resp.Snapshots = append(resp.Snapshots, s.snapshotMsg(info))
	}
	return connect.NewResponse(resp), nil
}

// DeleteShardSnapshot removes one snapshot file of this node.
func (s *Server) DeleteShardSnapshot(ctx context.Context, req *connect.Request[shoalv1.DeleteShardSnapshotRequest]) (*connect.Response[shoalv1.DeleteShardSnapshotResponse], error) {
	ref := req.Msg.GetShard()
	if err := s.snapshotStore(ref); err != nil {
		return nil, err
	}
	if err := s.snaps.Delete(ref.GetCollection(), ref.GetShardId(), req.Msg.GetName()); err != nil {
		return nil, s.snapshotErr(err)
	}
	return connect.NewResponse(&shoalv1.DeleteShardSnapshotResponse{}), nil
}

// DownloadShardSnapshot streams one snapshot file in chunks of
// snapshotChunkBytes. The file stays readable to the end even if it is
// deleted meanwhile.
func (s *Server) DownloadShardSnapshot(ctx context.Context, req *connect.Request[shoalv1.DownloadShardSnapshotRequest], stream *connect.ServerStream[shoalv1.SnapshotChunk]) error {
	ref := req.Msg.GetShard()
	if err := s.snapshotStore(ref); err != nil {
		return err
	}
	f, _, err := s.snaps.Open(ref.GetCollection(), ref.GetShardId(), req.Msg.GetName())
	if err != nil {
		return s.snapshotErr(err)
	}
	defer f.Close()
	buf := make([]byte, snapshotChunkBytes)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			if serr := stream.Send(&shoalv1.SnapshotChunk{Data: buf[:n]}); serr != nil {
				return serr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return s.toConnect(fmt.Errorf("read snapshot %s: %w", req.Msg.GetName(), err))
		}
		if ctx.Err() != nil {
			return s.toConnect(ctx.Err())
		}
	}
}

// RecoverShardSnapshot receives a snapshot file, checks the sha256 the
// first message gives, and has the shard's primary restore it (which
// checks that it is a complete replica file whose vectors fit the
// collection).
// Bad files are InvalidArgument and change nothing; on a node that is not
// the shard's primary the restore is FailedPrecondition (not-primary).
func (s *Server) RecoverShardSnapshot(ctx context.Context, stream *connect.ClientStream[shoalv1.RecoverShardSnapshotRequest]) (*connect.Response[shoalv1.ShardSnapshot], error) {
	if s.snaps == nil || s.restore == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("snapshots are not enabled on this node"))
	}
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, s.toConnect(err)
		}
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("empty snapshot upload"))
	}
	first := stream.Msg()
	ref := first.GetShard()
	if ref == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("shard is required"))
	}
	if _, err := s.replica(ctx, ref); err != nil {
		return nil, err
	}
	path, info, err := s.snaps.Receive(&streamReader{stream: stream, buf: first.GetData()}, first.GetChecksum())
	if err != nil {
		return nil, s.snapshotErr(err)
	}
	defer os.Remove(path)
	if info.Size == 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("empty snapshot upload"))
	}
	check, err := s.restore.Restore(ctx, ref, path)
	if err != nil {
		return nil, s.snapshotErr(fmt.Errorf("restore %s/%d: %w", ref.GetCollection(), ref.GetShardId(), err))
	}
	info.Name, info.Term, info.Seq = "", check.Position.Term, check.Position.Seq
	s.log.Info().Str("collection", ref.GetCollection()).Uint32("shard", ref.GetShardId()).Uint64("size", info.Size).
		Uint64("points", check.Points).Uint64("seq", info.Seq).Msg("shard recovered from snapshot")
	return connect.NewResponse(s.snapshotMsg(info)), nil
}

// streamReader reads the data of a RecoverShardSnapshot stream.
type streamReader struct {
	stream *connect.ClientStream[shoalv1.RecoverShardSnapshotRequest]
	buf    []byte
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if !s.stream.Receive() {
			if err := s.stream.Err(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		s.buf = s.stream.Msg().GetData()
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}
