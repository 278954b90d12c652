package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// ErrInstall is returned for an Install chunk that does not belong to the
// session in progress, or that would overwrite a replica this node leads.
var ErrInstall = errors.New("install refused")

// installs tracks the full copies in progress on this node, one session
// per replica.
type installs struct {
	mu       sync.Mutex
	sessions map[groupKey]string
}

func groupKeyOf(ref *shoalv1.ShardRef) groupKey {
	return groupKey{ref.GetCollection(), ref.GetUid(), ref.GetShardId()}
}

// active reports whether a full copy of k is in progress.
func (in *installs) active(k groupKey) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.sessions[k] != ""
}

// Replicate applies a primary's log entries to this node's replica (see
// replica.ApplyLog) and returns the replica's position after the call.
func (c *Coordinator) Replicate(ctx context.Context, req *shoalv1.ReplicateRequest) (*shoalv1.ReplicateResponse, error) {
	r, err := c.cfg.Replicas.Replica(ctx, req.GetShard())
	if err != nil {
		return nil, err
	}
	if r.Installing() && !c.installs.active(groupKeyOf(req.GetShard())) {
		term, seq := r.LastApplied()
		return &shoalv1.ReplicateResponse{Term: r.Term(), LastTerm: term, LastSeq: seq, NeedsCopy: true}, nil
	}
	res, err := r.ApplyLog(ctx, req.GetTerm(), req.GetPrevTerm(), req.GetPrevSeq(), req.GetEntries())
	if err != nil {
		return nil, fmt.Errorf("apply log from node %d: %w", req.GetPrimary(), err)
	}
	return &shoalv1.ReplicateResponse{Accepted: res.Accepted, Term: r.Term(), LastTerm: res.LastTerm, LastSeq: res.LastSeq}, nil
}

// Install applies one chunk of a full copy from the shard's primary: the
// first chunk empties the replica, the last sets its position.
func (c *Coordinator) Install(ctx context.Context, req *shoalv1.InstallRequest) error {
	k := groupKeyOf(req.GetShard())
	var r *replica.Replica
	var err error
	if req.GetFirst() {
		if err := c.mayInstall(ctx, k, req); err != nil {
			return err
		}
		if r, err = c.cfg.Replicas.Reset(ctx, req.GetShard()); err != nil {
			return fmt.Errorf("reset replica for a full copy: %w", err)
		}
		r.SetTerm(req.GetTerm())
		c.installs.mu.Lock()
		c.installs.sessions[k] = req.GetSession()
		c.installs.mu.Unlock()
		c.log.Info().Stringer("shard", k).Uint64("primary", req.GetPrimary()).Msg("receiving a full copy")
	} else {
		if err := c.notLeading(k); err != nil {
			return err
		}
		c.installs.mu.Lock()
		cur := c.installs.sessions[k]
		c.installs.mu.Unlock()
		if cur == "" || cur != req.GetSession() {
			return fmt.Errorf("%w: session %q is not in progress for shard %s", ErrInstall, req.GetSession(), k)
		}
		if r, err = c.cfg.Replicas.Replica(ctx, req.GetShard()); err != nil {
			return err
		}
	}
	// The source's vector spaces come before its first point.
	if err := r.InstallVectors(ctx, req.GetVectors()); err != nil {
		return fmt.Errorf("install vector spaces: %w", err)
	}
	if len(req.GetPoints()) > 0 {
		if err := r.InstallPoints(ctx, req.GetPoints()); err != nil {
			return fmt.Errorf("install %d points: %w", len(req.GetPoints()), err)
		}
	}
	if req.GetLast() {
		if err := r.InstallDone(ctx, req.GetLastTerm(), req.GetLastSeq(), req.GetFieldIndexes()); err != nil {
			return fmt.Errorf("finish full copy: %w", err)
		}
		c.installs.mu.Lock()
		delete(c.installs.sessions, k)
		c.installs.mu.Unlock()
		c.log.Info().Stringer("shard", k).Uint64("seq", req.GetLastSeq()).Msg("full copy installed")
	}
	return nil
}

// Position reports a replica's term and newest record.
func (c *Coordinator) Position(ctx context.Context, ref *shoalv1.ShardRef) (*shoalv1.PositionResponse, error) {
	r, err := c.cfg.Replicas.Replica(ctx, ref)
	if err != nil {
		return nil, err
	}
	term, seq := r.LastApplied()
	n, err := r.Count(ctx)
	if err != nil {
		return nil, err
	}
	return &shoalv1.PositionResponse{Term: r.Term(), LastTerm: term, LastSeq: seq, Points: n}, nil
}

// notLeading refuses a full copy of a shard this node leads.
func (c *Coordinator) notLeading(k groupKey) error {
	c.mu.Lock()
	_, leading := c.groups[k]
	c.mu.Unlock()
	if leading {
		return fmt.Errorf("%w: node %d leads shard %s", ErrInstall, c.cfg.NodeID, k)
	}
	return nil
}

// mayInstall refuses a full copy of a shard this node leads, or from a
// term older than its replica's.
func (c *Coordinator) mayInstall(ctx context.Context, k groupKey, req *shoalv1.InstallRequest) error {
	if err := c.notLeading(k); err != nil {
		return err
	}
	cur, err := c.cfg.Replicas.Replica(ctx, req.GetShard())
	if err != nil {
		return err
	}
	if t := cur.Term(); req.GetTerm() < t {
		return fmt.Errorf("%w: term %d is older than the replica's %d", ErrInstall, req.GetTerm(), t)
	}
	return nil
}
