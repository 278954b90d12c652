package service

import (
	"context"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// RemovePeer asks meta to record a storage node as removed (Qdrant's
// DELETE /cluster/peer/{peer_id}). Without force it is refused (400)
// while the node holds replicas; an unknown node is 404. It returns once
// this router's state reached the change (or SettleTimeout passed).
func (s *Service) RemovePeer(ctx context.Context, id uint64, force bool) error {
	var rev int64
	err := s.callMeta(ctx, "remove peer", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.RemovePeer(ctx, connect.NewRequest(&shoalv1.RemovePeerRequest{NodeId: id, Force: force}))
		if err == nil {
			rev = r.Msg.GetRevision()
		}
		return err
	})
	if err != nil {
		return err
	}
	s.settleRevision(ctx, rev, "remove peer")
	return nil
}

// DrainPeer asks meta to drain a storage node (move all its replicas to
// other nodes, place nothing new on it), or with cancel to stop draining
// it. An unknown node is 404, a removed one 400.
func (s *Service) DrainPeer(ctx context.Context, id uint64, cancel bool) error {
	var rev int64
	err := s.callMeta(ctx, "drain peer", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.DrainPeer(ctx, connect.NewRequest(&shoalv1.DrainPeerRequest{NodeId: id, Cancel: cancel}))
		if err == nil {
			rev = r.Msg.GetRevision()
		}
		return err
	})
	if err != nil {
		return err
	}
	s.settleRevision(ctx, rev, "drain peer")
	return nil
}

// settleRevision waits until this router's cluster state reached rev, at most
// SettleTimeout; a state that lags is logged, not an error.
func (s *Service) settleRevision(ctx context.Context, rev int64, what string) {
	wctx, cancel := context.WithTimeout(ctx, s.opt.SettleTimeout)
	defer cancel()
	if err := s.opt.State.WaitRevision(wctx, rev); err != nil {
		s.opt.Log.Warn().Err(err).Str("op", what).Msg("cluster state did not catch up; answering anyway")
	}
}
