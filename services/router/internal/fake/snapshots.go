package fake

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// The fake node keeps no snapshot files: the unary snapshot calls answer
// Unimplemented, and the streaming ones (whose client stream types only
// Connect itself can build) fail as calls to an unreachable node do.
// Snapshots are tested against real storage nodes (tests/e2e).

var errNoSnapshots = errors.New("the fake storage node keeps no snapshots")

// unreachable is a client of an address nothing listens on.
var unreachable = shoalv1connect.NewStorageServiceClient(http.DefaultClient, "http://127.0.0.1:1")

// CreateShardSnapshot implements shoalv1connect.StorageServiceClient.
func (s *Storage) CreateShardSnapshot(context.Context, *connect.Request[shoalv1.CreateShardSnapshotRequest]) (*connect.Response[shoalv1.ShardSnapshot], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errNoSnapshots)
}

// ListShardSnapshots implements shoalv1connect.StorageServiceClient.
func (s *Storage) ListShardSnapshots(context.Context, *connect.Request[shoalv1.ListShardSnapshotsRequest]) (*connect.Response[shoalv1.ListShardSnapshotsResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errNoSnapshots)
}

// DeleteShardSnapshot implements shoalv1connect.StorageServiceClient.
func (s *Storage) DeleteShardSnapshot(context.Context, *connect.Request[shoalv1.DeleteShardSnapshotRequest]) (*connect.Response[shoalv1.DeleteShardSnapshotResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errNoSnapshots)
}

// DownloadShardSnapshot implements shoalv1connect.StorageServiceClient.
func (s *Storage) DownloadShardSnapshot(ctx context.Context, req *connect.Request[shoalv1.DownloadShardSnapshotRequest]) (*connect.ServerStreamForClient[shoalv1.SnapshotChunk], error) {
	return unreachable.DownloadShardSnapshot(ctx, req)
}

// RecoverShardSnapshot implements shoalv1connect.StorageServiceClient.
func (s *Storage) RecoverShardSnapshot(ctx context.Context) *connect.ClientStreamForClient[shoalv1.RecoverShardSnapshotRequest, shoalv1.ShardSnapshot] {
	return unreachable.RecoverShardSnapshot(ctx)
}
