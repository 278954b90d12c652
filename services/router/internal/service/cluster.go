package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// RaftInfo is the consensus (etcd Raft) status as one meta member reports
// it.
type RaftInfo struct {
	Term   uint64
	Commit uint64
	// Leader is the etcd member id of the leader; 0 when there is none.
	Leader uint64
}

// Consensus reports the meta tier's Raft status.
type Consensus interface {
	Status(ctx context.Context) (RaftInfo, error)
}

// EtcdConsensus asks the etcd endpoints of a client, in turn, for their
// status (clientv3 Maintenance.Status), and answers with the first that
// responds.
type EtcdConsensus struct {
	Client *clientv3.Client
	// Timeout bounds each endpoint's attempt; zero means 2 s.
	Timeout time.Duration
}

// Status implements Consensus.
func (e EtcdConsensus) Status(ctx context.Context) (RaftInfo, error) {
	timeout := e.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	var errs []error
	for _, ep := range e.Client.Endpoints() {
		actx, cancel := context.WithTimeout(ctx, timeout)
		st, err := e.Client.Status(actx, ep)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ep, err))
			continue
		}
		return RaftInfo{Term: st.RaftTerm, Commit: st.RaftIndex, Leader: st.Leader}, nil
	}
	if len(errs) == 0 {
		return RaftInfo{}, errors.New("no meta endpoint configured")
	}
	return RaftInfo{}, fmt.Errorf("no meta endpoint answered: %w", errors.Join(errs...))
}

// ClusterStatus is GET /cluster's answer.
//
// A router is never a Raft member: the Raft group is the meta tier's etcd
// cluster. The router reports itself as peer_id, every registered node (all
// tiers) as a peer, and the Raft term, commit index and leader (an etcd
// member id) of the first meta member that answers; its own role is
// always Follower and it is never a voter.
type ClusterStatus struct {
	PeerID uint64
	// Peers maps every registered node id to its URI.
	Peers map[uint64]string
	Raft  RaftInfo
	// ConsensusErr is set when no meta member answered; Raft is then zero.
	ConsensusErr error
	// LastUpdate is when the status was taken.
	LastUpdate time.Time
}

// ClusterStatus returns the cluster's status.
func (s *Service) ClusterStatus(ctx context.Context) ClusterStatus {
	st := ClusterStatus{PeerID: s.opt.NodeID, Peers: map[uint64]string{}, LastUpdate: time.Now().UTC()}
	for _, n := range s.opt.State.Nodes(shoalv1.NodeTier_NODE_TIER_UNSPECIFIED) {
		st.Peers[n.GetId()] = n.GetUri()
	}
	st.Raft, st.ConsensusErr = s.opt.Consensus.Status(ctx)
	return st
}

// Ready reports whether the router can serve: the cluster state is loaded
// (always true once the service exists) and the meta tier answers.
func (s *Service) Ready(ctx context.Context) error {
	if _, err := s.opt.Consensus.Status(ctx); err != nil {
		return apierr.NoService("meta tier unreachable: %v", err)
	}
	return nil
}

// RemoteShard is one replica in a collection's cluster info.
type RemoteShard struct {
	ShardID uint32
	PeerID  uint64
	// State is Qdrant's replica state name (Active, Dead, Partial, …).
	State string
	// ShardKey is the shard's key (custom sharding); nil for none.
	ShardKey *shoalv1.ShardKey
}

// CollectionClusterInfo is GET /collections/{name}/cluster's answer. A
// router holds no shards, so every replica is remote.
type CollectionClusterInfo struct {
	PeerID       uint64
	ShardCount   int
	RemoteShards []RemoteShard
	// ShardTransfers are the transfers in flight, as meta reports them
	// (empty, with a warning logged, when no meta node answers).
	ShardTransfers []ShardTransfer
}

// CollectionClusterInfo describes where a collection's replicas are.
func (s *Service) CollectionClusterInfo(ctx context.Context, name string) (CollectionClusterInfo, error) {
	c, err := s.resolve(name)
	if err != nil {
		return CollectionClusterInfo{}, err
	}
	info := CollectionClusterInfo{PeerID: s.opt.NodeID, ShardCount: len(c.Map.GetShards()), RemoteShards: []RemoteShard{}}
	for _, sh := range c.Map.GetShards() {
		for _, rep := range sh.GetReplicas() {
			info.RemoteShards = append(info.RemoteShards, RemoteShard{ShardID: sh.GetId(), PeerID: rep.GetNodeId(), State: ReplicaStateName(rep.GetState()), ShardKey: sh.GetKey()})
		}
	}
	info.ShardTransfers = s.shardTransfers(c)
	return info, nil
}

// ReplicaStateName is Qdrant's name of a replica state. An unset state is
// shown as Initializing (the replica is being set up).
func ReplicaStateName(st shoalv1.ReplicaState) string {
	switch st {
	case shoalv1.ReplicaState_REPLICA_STATE_ACTIVE:
		return "Active"
	case shoalv1.ReplicaState_REPLICA_STATE_DEAD:
		return "Dead"
	case shoalv1.ReplicaState_REPLICA_STATE_PARTIAL:
		return "Partial"
	case shoalv1.ReplicaState_REPLICA_STATE_LISTENER:
		return "Listener"
	case shoalv1.ReplicaState_REPLICA_STATE_RECOVERY:
		return "Recovery"
	}
	return "Initializing"
}

// Digests reports the digest of every replica of every shard of a
// collection (named directly or through an alias); see routing.Digests.
func (s *Service) Digests(ctx context.Context, name string) ([]routing.ShardDigests, error) {
	c, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	return s.opt.Router.Digests(ctx, c), nil
}
