package server

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// Replicate applies a primary's log entries on this follower.
func (s *Server) Replicate(ctx context.Context, req *connect.Request[shoalv1.ReplicateRequest]) (*connect.Response[shoalv1.ReplicateResponse], error) {
	if req.Msg.GetShard() == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("shard is required"))
	}
	resp, err := s.repl.Replicate(ctx, req.Msg)
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(resp), nil
}

// Install applies one chunk of a full copy from the shard's primary.
func (s *Server) Install(ctx context.Context, req *connect.Request[shoalv1.InstallRequest]) (*connect.Response[shoalv1.InstallResponse], error) {
	if req.Msg.GetShard() == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("shard is required"))
	}
	if err := s.repl.Install(ctx, req.Msg); err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(&shoalv1.InstallResponse{}), nil
}

// Position reports the replica's term and newest record.
func (s *Server) Position(ctx context.Context, req *connect.Request[shoalv1.PositionRequest]) (*connect.Response[shoalv1.PositionResponse], error) {
	if req.Msg.GetShard() == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("shard is required"))
	}
	resp, err := s.repl.Position(ctx, req.Msg.GetShard())
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(resp), nil
}

// Digest reports the replica's order-independent checksum.
func (s *Server) Digest(ctx context.Context, req *connect.Request[shoalv1.DigestRequest]) (*connect.Response[shoalv1.DigestResponse], error) {
	r, err := s.replica(ctx, req.Msg.GetShard())
	if err != nil {
		return nil, err
	}
	d, err := r.Digest(ctx)
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(&shoalv1.DigestResponse{
		LastTerm: d.LastTerm, LastSeq: d.LastSeq, Points: d.Points, Digest: fmt.Sprintf("%016x", d.Sum),
	}), nil
}
