package service

import (
	"context"
	"slices"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// PeerTelemetry is one registered node as GET /cluster/telemetry reports
// it. Every registered node holds a live lease, so it counts as
// responsive; Voter is true for meta nodes (the etcd members that elect
// the Raft leader), Leader for the meta node that leads.
type PeerTelemetry struct {
	ID      uint64
	URI     string
	Version string
	Voter   bool
	Leader  bool
}

// ClusterTelemetry is the cluster as this router sees it: its watched
// state (nodes, collections with their shard maps and transfers) and the
// meta tier's Raft status.
type ClusterTelemetry struct {
	Status ClusterStatus
	// Peers are the registered nodes in id order.
	Peers []PeerTelemetry
	// Collections maps every collection name to its cluster info.
	Collections map[string]CollectionClusterInfo
}

// ClusterTelemetry collects the cluster telemetry from the local state.
// A collection deleted while it is collected is left out.
func (s *Service) ClusterTelemetry(ctx context.Context) ClusterTelemetry {
	t := ClusterTelemetry{Status: s.ClusterStatus(ctx), Collections: map[string]CollectionClusterInfo{}}
	for _, n := range s.opt.State.Nodes(shoalv1.NodeTier_NODE_TIER_UNSPECIFIED) {
		meta := n.GetTier() == shoalv1.NodeTier_NODE_TIER_META
		t.Peers = append(t.Peers, PeerTelemetry{
			ID: n.GetId(), URI: n.GetUri(), Version: n.GetVersion(),
			Voter: meta, Leader: meta && t.Status.ConsensusErr == nil && n.GetId() == t.Status.Raft.Leader,
		})
	}
	slices.SortFunc(t.Peers, func(a, b PeerTelemetry) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	for _, name := range s.ListCollections() {
		info, err := s.CollectionClusterInfo(ctx, name)
		if err != nil {
			continue
		}
		t.Collections[name] = info
	}
	return t
}

// RecoverCurrentPeer is Qdrant's POST /cluster/recover. A Shoal router
// keeps no Raft state of its own: its view of the cluster is a watch of
// the meta tier's etcd, re-listed whenever the watch breaks. Recovering
// therefore means checking that the meta tier has a quorum (a Raft leader
// answers); the answer is 503 when no meta node answers or no leader is
// elected.
func (s *Service) RecoverCurrentPeer(ctx context.Context) error {
	st, err := s.opt.Consensus.Status(ctx)
	if err != nil {
		return apierr.NoService("recover: meta tier unreachable: %v", err)
	}
	if st.Leader == 0 {
		return apierr.NoService("recover: the meta tier has no Raft leader")
	}
	return nil
}
