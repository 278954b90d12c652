package fake

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// CreateVectorName adds a named vector to the stored collection's config.
func (m metaAPI) CreateVectorName(_ context.Context, req *connect.Request[shoalv1.CreateVectorNameRequest]) (*connect.Response[shoalv1.CreateVectorNameResponse], error) {
	old, sm, ok := m.c.State.Collection(req.Msg.GetCollection())
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", req.Msg.GetCollection()))
	}
	if p, ok := old.GetConfig().GetVectors()[req.Msg.GetName()]; ok {
		if proto.Equal(p, req.Msg.GetParams()) {
			return connect.NewResponse(&shoalv1.CreateVectorNameResponse{Collection: old}), nil
		}
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Vector name `%s` already exists with other parameters", req.Msg.GetName()))
	}
	if !old.GetConfig().GetNamed() {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("collection has a single unnamed vector"))
	}
	c := proto.Clone(old).(*shoalv1.Collection)
	c.Config.Vectors[req.Msg.GetName()] = req.Msg.GetParams()
	m.c.State.PutCollection(c, sm)
	return connect.NewResponse(&shoalv1.CreateVectorNameResponse{Created: true, Collection: c, Revision: 1}), nil
}

// DeleteVectorName removes a named vector from the stored collection's
// config.
func (m metaAPI) DeleteVectorName(_ context.Context, req *connect.Request[shoalv1.DeleteVectorNameRequest]) (*connect.Response[shoalv1.DeleteVectorNameResponse], error) {
	old, sm, ok := m.c.State.Collection(req.Msg.GetCollection())
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", req.Msg.GetCollection()))
	}
	if _, ok := old.GetConfig().GetVectors()[req.Msg.GetName()]; !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Vector name `%s` does not exist", req.Msg.GetName()))
	}
	c := proto.Clone(old).(*shoalv1.Collection)
	delete(c.Config.Vectors, req.Msg.GetName())
	m.c.State.PutCollection(c, sm)
	return connect.NewResponse(&shoalv1.DeleteVectorNameResponse{Collection: c, Revision: 1}), nil
}

// GetQuotas returns the stored quota configuration.
func (m metaAPI) GetQuotas(context.Context, *connect.Request[shoalv1.GetQuotasRequest]) (*connect.Response[shoalv1.GetQuotasResponse], error) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	return connect.NewResponse(&shoalv1.GetQuotasResponse{ConfigJson: m.c.quotas}), nil
}

// SetQuotas stores the quota configuration.
func (m metaAPI) SetQuotas(_ context.Context, req *connect.Request[shoalv1.SetQuotasRequest]) (*connect.Response[shoalv1.SetQuotasResponse], error) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	m.c.quotas = req.Msg.GetConfigJson()
	return connect.NewResponse(&shoalv1.SetQuotasResponse{Revision: 1}), nil
}
