package grpcapi

import (
	"context"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/service"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// registerSnapshots registers qdrant.Snapshots: collection and full
// snapshots through the same service calls as REST (wait is implied).
func (s *Server) registerSnapshots() {
	unary(s, "/qdrant.Snapshots/Create", true, func(ctx context.Context, req *qdrant.CreateSnapshotRequest) (*qdrant.CreateSnapshotResponse, error) {
		d, err := s.svc.CreateSnapshot(ctx, req.GetCollectionName())
		if err != nil {
			return nil, err
		}
		return &qdrant.CreateSnapshotResponse{SnapshotDescription: snapshotDescription(d)}, nil
	})
	unary(s, "/qdrant.Snapshots/List", false, func(ctx context.Context, req *qdrant.ListSnapshotsRequest) (*qdrant.ListSnapshotsResponse, error) {
		list, err := s.svc.ListSnapshots(ctx, req.GetCollectionName())
		if err != nil {
			return nil, err
		}
		return &qdrant.ListSnapshotsResponse{SnapshotDescriptions: snapshotDescriptions(list)}, nil
	})
	unary(s, "/qdrant.Snapshots/Delete", true, func(ctx context.Context, req *qdrant.DeleteSnapshotRequest) (*qdrant.DeleteSnapshotResponse, error) {
		if err := s.svc.DeleteSnapshot(ctx, req.GetCollectionName(), req.GetSnapshotName()); err != nil {
			return nil, err
		}
		return &qdrant.DeleteSnapshotResponse{}, nil
	})
	unary(s, "/qdrant.Snapshots/CreateFull", true, func(ctx context.Context, _ *qdrant.CreateFullSnapshotRequest) (*qdrant.CreateSnapshotResponse, error) {
		d, err := s.svc.CreateFullSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		return &qdrant.CreateSnapshotResponse{SnapshotDescription: snapshotDescription(d)}, nil
	})
	unary(s, "/qdrant.Snapshots/ListFull", false, func(ctx context.Context, _ *qdrant.ListFullSnapshotsRequest) (*qdrant.ListSnapshotsResponse, error) {
		list, err := s.svc.ListFullSnapshots(ctx)
		if err != nil {
			return nil, err
		}
		return &qdrant.ListSnapshotsResponse{SnapshotDescriptions: snapshotDescriptions(list)}, nil
	})
	unary(s, "/qdrant.Snapshots/DeleteFull", true, func(ctx context.Context, req *qdrant.DeleteFullSnapshotRequest) (*qdrant.DeleteSnapshotResponse, error) {
		if err := s.svc.DeleteFullSnapshot(ctx, req.GetSnapshotName()); err != nil {
			return nil, err
		}
		return &qdrant.DeleteSnapshotResponse{}, nil
	})
}

func snapshotDescription(d service.SnapshotDescription) *qdrant.SnapshotDescription {
	sum := d.Checksum
	return &qdrant.SnapshotDescription{
		Name: d.Name, CreationTime: timestamppb.New(d.Created), Size: int64(d.Size), Checksum: &sum,
	}
}

func snapshotDescriptions(list []service.SnapshotDescription) []*qdrant.SnapshotDescription {
	out := make([]*qdrant.SnapshotDescription, 0, len(list))
	for _, d := range list {
		out = append(out, snapshotDescription(d))
	}
	return out
}
