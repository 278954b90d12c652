package grpcapi

import (
	"context"

	"github.com/qdrant/go-client/qdrant"
)

// The RPCs of qdrant.Collections. Shard keys and cluster setup changes are
// answered Unimplemented (see registerUnimplemented).
func (s *Server) registerCollections() {
	unary(s, "/qdrant.Collections/Get", false, func(ctx context.Context, req *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
		info, err := s.svc.GetCollection(ctx, req.GetCollectionName())
		if err != nil {
			return nil, err
		}
		return &qdrant.GetCollectionInfoResponse{Result: collectionInfo(info)}, nil
	})
	unary(s, "/qdrant.Collections/List", false, func(context.Context, *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
		out := &qdrant.ListCollectionsResponse{}
		for _, name := range s.svc.ListCollections() {
			out.Collections = append(out.Collections, &qdrant.CollectionDescription{Name: name})
		}
		return out, nil
	})
	unary(s, "/qdrant.Collections/Create", true, func(ctx context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
		cr, err := createCollection(req)
		if err != nil {
			return nil, err
		}
		if err := s.svc.CreateCollection(ctx, cr); err != nil {
			return nil, err
		}
		return &qdrant.CollectionOperationResponse{Result: true}, nil
	})
	unary(s, "/qdrant.Collections/Update", true, func(ctx context.Context, req *qdrant.UpdateCollection) (*qdrant.CollectionOperationResponse, error) {
		ur, err := updateCollection(req)
		if err != nil {
			return nil, err
		}
		if err := s.svc.UpdateCollection(ctx, ur); err != nil {
			return nil, err
		}
		return &qdrant.CollectionOperationResponse{Result: true}, nil
	})
	unary(s, "/qdrant.Collections/Delete", true, func(ctx context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
		deleted, err := s.svc.DeleteCollection(ctx, req.GetCollectionName())
		if err != nil {
			return nil, err
		}
		return &qdrant.CollectionOperationResponse{Result: deleted}, nil
	})
	unary(s, "/qdrant.Collections/CollectionExists", false, func(_ context.Context, req *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
		return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: s.svc.CollectionExists(req.GetCollectionName())}}, nil
	})
	unary(s, "/qdrant.Collections/CollectionClusterInfo", false, func(ctx context.Context, req *qdrant.CollectionClusterInfoRequest) (*qdrant.CollectionClusterInfoResponse, error) {
		info, err := s.svc.CollectionClusterInfo(ctx, req.GetCollectionName())
		if err != nil {
			return nil, err
		}
		return clusterInfo(info), nil
	})
	unary(s, "/qdrant.Collections/UpdateAliases", true, func(ctx context.Context, req *qdrant.ChangeAliases) (*qdrant.CollectionOperationResponse, error) {
		actions, err := aliasActions(req)
		if err != nil {
			return nil, err
		}
		if err := s.svc.UpdateAliases(ctx, actions); err != nil {
			return nil, err
		}
		return &qdrant.CollectionOperationResponse{Result: true}, nil
	})
	unary(s, "/qdrant.Collections/ListAliases", false, func(context.Context, *qdrant.ListAliasesRequest) (*qdrant.ListAliasesResponse, error) {
		list, err := s.svc.ListAliases("")
		if err != nil {
			return nil, err
		}
		return &qdrant.ListAliasesResponse{Aliases: aliasDescriptions(list)}, nil
	})
	unary(s, "/qdrant.Collections/ListCollectionAliases", false, func(_ context.Context, req *qdrant.ListCollectionAliasesRequest) (*qdrant.ListAliasesResponse, error) {
		list, err := s.svc.ListAliases(req.GetCollectionName())
		if err != nil {
			return nil, err
		}
		return &qdrant.ListAliasesResponse{Aliases: aliasDescriptions(list)}, nil
	})
}
