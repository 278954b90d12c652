package fake

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// Error metadata the fake sets on refusals, as storage nodes do.
const (
	errorKindHeader      = "Shoal-Error-Kind"
	kindNotPrimary       = "not-primary"
	kindWriteConsistency = "write-consistency"
	kindNoLease          = "no-lease"
)

// applyFunc applies a write to replica r of node f (f.mu held) with the
// version the primary gave it.
type applyFunc func(f *Storage, r map[string]*shoalv1.Point, version uint64) error

// SetRateLimited makes the node refuse writes with ResourceExhausted, as
// a node over its update rate limit does.
func (s *Storage) SetRateLimited(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimited = v
}

// SetNoLease makes the node refuse writes as a node that cannot confirm
// its lease does (Unavailable, no-lease).
func (s *Storage) SetNoLease(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noLease = v
}

// SetHang makes the node's writes wait until their context ends, as a
// stopped (SIGSTOP) node's do.
func (s *Storage) SetHang(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = v
}

// write is a write RPC as a storage primary serves it: the node refuses a
// write whose term is set (non-zero) unless the State's shard map names
// it the shard's primary at that term (FailedPrecondition, not-primary);
// otherwise it applies the write, then applies it on every other replica
// of the shard that is not DEAD and whose node is up, and succeeds when
// write_consistency_factor replicas (itself and ACTIVE followers) hold it
// (else Unavailable, write-consistency). Followers get the primary's
// version, so that replicas compare equal (see Digest).
func (s *Storage) write(ctx context.Context, method string, ref *shoalv1.ShardRef, term uint64, wait bool, apply applyFunc) (*connect.Response[shoalv1.UpdateResponse], error) {
	s.mu.Lock()
	r, err := s.enter(method, ref)
	switch {
	case err != nil:
	case method == "Update" && s.noUpdate:
		err = connect.NewError(connect.CodeUnimplemented, fmt.Errorf("shoal.v1.StorageService.Update is not implemented"))
	case s.noLease:
		ce := connect.NewError(connect.CodeUnavailable, fmt.Errorf("storage node %d cannot confirm its lease with the meta service", s.NodeID))
		ce.Meta().Set(errorKindHeader, kindNoLease)
		err = ce
	case s.rateLimited:
		err = connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("update rate limit of node %d exceeded", s.NodeID))
	case s.hang:
		s.mu.Unlock()
		<-ctx.Done()
		code := connect.CodeCanceled
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			code = connect.CodeDeadlineExceeded
		}
		return nil, connect.NewError(code, ctx.Err())
	default:
		err = s.checkPrimary(ref, term)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.seq++
	version := s.seq
	err = apply(s, r, version)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	col, m, ok := s.State.Collection(ref.GetCollection())
	if !ok {
		return connect.NewResponse(&shoalv1.UpdateResponse{Seq: version, Completed: wait}), nil
	}
	held := 1
	for _, sh := range m.GetShards() {
		if sh.GetId() != ref.GetShardId() {
			continue
		}
		for _, rep := range sh.GetReplicas() {
			if rep.GetNodeId() == s.NodeID || rep.GetState() == shoalv1.ReplicaState_REPLICA_STATE_DEAD || s.peer == nil {
				continue
			}
			f := s.peer(rep.GetNodeId())
			if f == nil || f.follow(ref, version, apply) != nil {
				continue
			}
			if rep.GetState() == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
				held++
			}
		}
	}
	if need := int(col.GetConfig().GetWriteConsistencyFactor()); held < need {
		e := connect.NewError(connect.CodeUnavailable, fmt.Errorf("write consistency factor %d not met: %d replicas of shard %d hold the write", need, held, ref.GetShardId()))
		e.Meta().Set(errorKindHeader, kindWriteConsistency)
		return nil, e
	}
	return connect.NewResponse(&shoalv1.UpdateResponse{Seq: version, Completed: wait}), nil
}

// checkPrimary refuses a write with a term unless the node is the shard's
// primary at that term in the State's map (s.mu held).
func (s *Storage) checkPrimary(ref *shoalv1.ShardRef, term uint64) error {
	if term == 0 {
		return nil
	}
	_, m, ok := s.State.Collection(ref.GetCollection())
	if ok {
		for _, sh := range m.GetShards() {
			if sh.GetId() == ref.GetShardId() && sh.GetPrimary() == s.NodeID && sh.GetTerm() == term {
				return nil
			}
		}
	}
	e := connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("node %d is not the primary of shard %d of %s at term %d", s.NodeID, ref.GetShardId(), ref.GetCollection(), term))
	e.Meta().Set(errorKindHeader, kindNotPrimary)
	return e
}

// follow applies a primary's write on this node's replica.
func (s *Storage) follow(ref *shoalv1.ShardRef, version uint64, apply applyFunc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("Replicate", ref)
	if err != nil {
		return err
	}
	s.seq = max(s.seq, version)
	return apply(s, r, version)
}

// errInternalReplication is the answer of the fake's replication RPCs: the
// fake replicates inside write, node to node.
var errInternalReplication = errors.New("fake: replication happens inside the primary's write")

// Replicate implements StorageServiceClient; the fake does not ship logs.
func (s *Storage) Replicate(context.Context, *connect.Request[shoalv1.ReplicateRequest]) (*connect.Response[shoalv1.ReplicateResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errInternalReplication)
}

// Install implements StorageServiceClient; the fake does not ship
// snapshots.
func (s *Storage) Install(context.Context, *connect.Request[shoalv1.InstallRequest]) (*connect.Response[shoalv1.InstallResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errInternalReplication)
}

// Position implements StorageServiceClient: the node's sequence number
// and the shard's term in the State.
func (s *Storage) Position(_ context.Context, req *connect.Request[shoalv1.PositionRequest]) (*connect.Response[shoalv1.PositionResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("Position", req.Msg.Shard)
	if err != nil {
		return nil, err
	}
	term := s.termOf(req.Msg.Shard)
	return connect.NewResponse(&shoalv1.PositionResponse{Term: term, LastTerm: term, LastSeq: s.seq, Points: uint64(len(r))}), nil
}

// Digest implements StorageServiceClient: an order-independent checksum
// (the sum of every point's hash) of the replica's points with their
// versions, vectors and payloads.
func (s *Storage) Digest(_ context.Context, req *connect.Request[shoalv1.DigestRequest]) (*connect.Response[shoalv1.DigestResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("Digest", req.Msg.Shard)
	if err != nil {
		return nil, err
	}
	var sum uint64
	for _, p := range r {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("encode point: %w", err))
		}
		h := fnv.New64a()
		_, _ = h.Write(b)
		sum += h.Sum64()
	}
	return connect.NewResponse(&shoalv1.DigestResponse{
		LastTerm: s.termOf(req.Msg.Shard), LastSeq: s.seq, Points: uint64(len(r)), Digest: fmt.Sprintf("%016x", sum),
	}), nil
}

// termOf is the shard's term in the State's map (0 when unknown).
func (s *Storage) termOf(ref *shoalv1.ShardRef) uint64 {
	_, m, ok := s.State.Collection(ref.GetCollection())
	if !ok {
		return 0
	}
	for _, sh := range m.GetShards() {
		if sh.GetId() == ref.GetShardId() {
			return sh.GetTerm()
		}
	}
	return 0
}

// WaitCalls blocks until the node has answered or refused at least n
// calls of method, or ctx ends.
func (s *Storage) WaitCalls(ctx context.Context, method string, n int) error {
	for {
		s.mu.Lock()
		got, ch := s.calls[method], s.called
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d %s calls on node %d (%d so far): %w", n, method, s.NodeID, got, ctx.Err())
		case <-ch:
		}
	}
}

// Put stores points on this node's replica of a shard only, bypassing the
// primary and replication, so that tests can make replicas differ.
func (s *Storage) Put(uid string, shard uint32, points ...*shoalv1.Point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, _ := s.enter("Put", &shoalv1.ShardRef{Uid: uid, ShardId: shard})
	if r == nil {
		r = map[string]*shoalv1.Point{}
		s.replicas[fmt.Sprintf("%s/%d", uid, shard)] = r
	}
	for _, p := range points {
		s.seq++
		c := proto.Clone(p).(*shoalv1.Point)
		c.Version = s.seq
		r[string(pointid.Key(p.Id))] = c
	}
}
