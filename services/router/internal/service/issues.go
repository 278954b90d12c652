package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// Issue is one entry of the issues report (GET /issues): a problem the
// router detects in the watched cluster state.
type Issue struct {
	// ID names the problem and what it concerns, e.g.
	// "NO_ACTIVE_REPLICA/products/2"; it is stable while the condition
	// lasts.
	ID          string
	Description string
	// Solution is the advice to fix it (Qdrant's "refactor" solution).
	Solution string
	// Timestamp is when this router first saw the condition.
	Timestamp time.Time
	// Collection is the collection concerned; "" for cluster-wide issues.
	Collection string
}

// Issue kinds: the prefix of Issue.ID.
const (
	IssueNoActiveReplica   = "NO_ACTIVE_REPLICA"
	IssueReplicaNotActive  = "REPLICA_NOT_ACTIVE"
	IssueUnderReplicated   = "UNDER_REPLICATED"
	IssueReplicationFactor = "REPLICATION_FACTOR_EXCEEDS_NODES"
	IssueNodeUnregistered  = "REPLICA_ON_UNREGISTERED_NODE"
	IssueMetaUnreachable   = "META_UNREACHABLE"
	IssueMetaNoLeader      = "META_NO_LEADER"
)

// issueLog remembers, per router, when each present issue was first seen
// and which were cleared.
type issueLog struct {
	mu      sync.Mutex
	first   map[string]time.Time
	cleared map[string]bool
}

func newIssueLog() *issueLog {
	return &issueLog{first: map[string]time.Time{}, cleared: map[string]bool{}}
}

// record merges a fresh detection into the log and returns the issues to
// report: the detected ones not cleared, with their first-seen time. An
// issue no longer detected is forgotten, together with its clearance, so
// that it is reported anew if the condition comes back.
func (l *issueLog) record(now time.Time, detected []Issue) []Issue {
	l.mu.Lock()
	defer l.mu.Unlock()
	present := make(map[string]bool, len(detected))
	out := []Issue{}
	for _, is := range detected {
		present[is.ID] = true
		t, ok := l.first[is.ID]
		if !ok {
			t = now
			l.first[is.ID] = t
		}
		if l.cleared[is.ID] {
			continue
		}
		is.Timestamp = t
		out = append(out, is)
	}
	for id := range l.first {
		if !present[id] {
			delete(l.first, id)
			delete(l.cleared, id)
		}
	}
	return out
}

// clear hides every issue recorded so far until its condition ends.
func (l *issueLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.first {
		l.cleared[id] = true
	}
}

// Issues evaluates the cluster state and returns the issues to report,
// sorted by id. Conditions are evaluated when the report is asked for (and
// when it is cleared): a condition that ended and came back between two
// evaluations counts as one that lasted.
func (s *Service) Issues(ctx context.Context) []Issue {
	return s.issues.record(time.Now().UTC(), s.detectIssues(ctx))
}

// ClearIssues removes every issue reported so far (DELETE /issues). The
// issues are derived from the cluster state, so clearing cannot make a
// condition go away: it acknowledges the present ones, which stay out of
// the report until their condition ends; if it comes back later it is
// reported again. Clearing is local to this router.
func (s *Service) ClearIssues(ctx context.Context) {
	s.issues.record(time.Now().UTC(), s.detectIssues(ctx))
	s.issues.clear()
}

// detectIssues lists the problems visible in the watched state and the
// meta tier's consensus status.
func (s *Service) detectIssues(ctx context.Context) []Issue {
	registered := map[uint64]bool{}
	normal := 0
	for _, n := range s.opt.State.Nodes(shoalv1.NodeTier_NODE_TIER_STORAGE) {
		registered[n.GetId()] = true
		if n.GetNodeType() == shoalv1.NodeType_NODE_TYPE_NORMAL {
			normal++
		}
	}
	var out []Issue
	for _, c := range s.opt.State.Collections() {
		_, m, ok := s.opt.State.Collection(c.GetName())
		if !ok || m == nil {
			continue
		}
		out = append(out, collectionIssues(c, m, registered, normal)...)
	}
	if s.opt.Consensus != nil {
		out = append(out, consensusIssues(s.opt.Consensus.Status(ctx))...)
	}
	slices.SortFunc(out, func(a, b Issue) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// collectionIssues checks one collection's shard map against its
// replication factor and the registered storage nodes.
func collectionIssues(c *shoalv1.Collection, m *shoalv1.ShardMap, registered map[uint64]bool, normalNodes int) []Issue {
	name := c.GetName()
	rf := int(c.GetConfig().GetReplicationFactor())
	var out []Issue
	if rf > normalNodes {
		out = append(out, Issue{
			ID:          fmt.Sprintf("%s/%s", IssueReplicationFactor, name),
			Description: fmt.Sprintf("Collection %s has replication_factor %d but only %d storage nodes of type Normal are registered, so its shards cannot all have %d replicas", name, rf, normalNodes, rf),
			Solution:    fmt.Sprintf("Add storage nodes or lower replication_factor to at most %d (PATCH /collections/%s)", max(normalNodes, 1), name),
			Collection:  name,
		})
	}
	for _, sh := range m.GetShards() {
		want := rf
		if own := sh.GetReplicationFactor(); own > 0 {
			want = int(own) // a shard key's own replication factor
		}
		out = append(out, shardIssues(name, sh, want, registered)...)
	}
	return out
}

func shardIssues(name string, sh *shoalv1.Shard, rf int, registered map[uint64]bool) []Issue {
	id := sh.GetId()
	var out []Issue
	active, copies := 0, 0
	for _, rep := range sh.GetReplicas() {
		node := rep.GetNodeId()
		if !registered[node] {
			out = append(out, Issue{
				ID:          fmt.Sprintf("%s/%s/%d/%d", IssueNodeUnregistered, name, id, node),
				Description: fmt.Sprintf("Shard %d of collection %s has a replica on node %d, which is not registered (down or unreachable from the meta tier)", id, name, node),
				Solution:    fmt.Sprintf("Restart storage node %d, or replace it so that the shard is replicated elsewhere", node),
				Collection:  name,
			})
		}
		switch rep.GetState() {
		case shoalv1.ReplicaState_REPLICA_STATE_LISTENER:
			continue
		case shoalv1.ReplicaState_REPLICA_STATE_ACTIVE:
			active++
		default:
			out = append(out, Issue{
				ID:          fmt.Sprintf("%s/%s/%d/%d", IssueReplicaNotActive, name, id, node),
				Description: fmt.Sprintf("Replica of shard %d of collection %s on node %d is %s, not Active: it serves no reads", id, name, node, ReplicaStateName(rep.GetState())),
				Solution:    fmt.Sprintf("Check storage node %d; a Dead replica is recovered from an Active one once the node is back", node),
				Collection:  name,
			})
		}
		copies++
	}
	if active == 0 {
		out = append(out, Issue{
			ID:          fmt.Sprintf("%s/%s/%d", IssueNoActiveReplica, name, id),
			Description: fmt.Sprintf("Shard %d of collection %s has no Active replica: its points can be neither read nor written", id, name),
			Solution:    "Bring back the storage nodes holding the shard's replicas",
			Collection:  name,
		})
	}
	if copies < rf {
		out = append(out, Issue{
			ID:          fmt.Sprintf("%s/%s/%d", IssueUnderReplicated, name, id),
			Description: fmt.Sprintf("Shard %d of collection %s has %d replicas, fewer than its replication_factor %d", id, name, copies, rf),
			Solution:    "Add storage nodes so that every shard can have replication_factor replicas",
			Collection:  name,
		})
	}
	return out
}

// consensusIssues reports a meta tier that does not answer or has no
// Raft leader (catalog changes then fail).
func consensusIssues(info RaftInfo, err error) []Issue {
	if err != nil {
		return []Issue{{
			ID:          IssueMetaUnreachable,
			Description: fmt.Sprintf("No meta node answered the consensus status request: %v", err),
			Solution:    "Check that a majority of the meta nodes is running and reachable from the router",
		}}
	}
	if info.Leader == 0 {
		return []Issue{{
			ID:          IssueMetaNoLeader,
			Description: "The meta tier's Raft group has no leader: collections, aliases and shard maps cannot change",
			Solution:    "Start enough meta nodes to form a majority",
		}}
	}
	return nil
}
