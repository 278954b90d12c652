package replication

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// Shipping limits: one Replicate call carries at most this many records
// and about this many bytes.
const (
	shipMaxEntries = 1024
	shipMaxBytes   = 8 << 20
	rpcTimeout     = 10 * time.Second
)

// errFenced ends a shipper's work: a newer term exists.
var errFenced = errors.New("fenced by a newer term")

// shipper sends the primary's log to one follower, in order, one batch
// at a time. It learns where the follower's log ends from the follower's
// answers and, when the primary's retained log no longer reaches back
// there or the logs diverged, sends a full copy (install.go).
type shipper struct {
	g    *group
	node uint64

	state  atomic.Int32       // the follower's shoalv1.ReplicaState in the map
	acked  atomic.Uint64      // newest sequence number the follower holds
	cancel context.CancelFunc // set before run starts; ends run

	// Shipper goroutine only.
	failingSince time.Time
	lastPromote  time.Time
	rep          *report // the running recovery of the follower, if any
}

// counts reports whether the follower counts toward
// write_consistency_factor: only Active replicas do.
func (s *shipper) counts() bool {
	return shoalv1.ReplicaState(s.state.Load()) == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE
}

func (s *shipper) run(ctx context.Context) {
	log := s.g.log.With().Uint64("follower", s.node).Logger()
	defer func() { s.finish(ctx.Err()) }()
	var next uint64 // next sequence number to send; 0: not known yet
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		appended := s.g.r.Appended()
		_, last := s.g.r.LastApplied()
		var err error
		switch {
		case next == 0:
			next, err = s.probe(ctx, last)
		case next <= last:
			next, err = s.ship(ctx, next)
		default:
			s.caughtUp(ctx, last)
			select {
			case <-appended:
			case <-ctx.Done():
			case <-time.After(time.Second): // re-check state changes
			}
			continue
		}
		if errors.Is(err, errFenced) {
			<-ctx.Done()
			return
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			next = 0
			s.failed(ctx, err, log)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		if !s.failingSince.IsZero() {
			log.Info().Msg("follower reachable again")
		}
		s.failingSince = time.Time{}
		backoff = 50 * time.Millisecond
	}
}

// probe asks the follower whether its log ends where the primary's does.
func (s *shipper) probe(ctx context.Context, last uint64) (uint64, error) {
	lastTerm := uint64(0)
	if last > 0 {
		t, ok, err := s.g.r.TermAt(ctx, last)
		if err != nil {
			return 0, fmt.Errorf("term of record %d: %w", last, err)
		}
		if !ok {
			lastTerm, _ = s.g.r.LastApplied()
		} else {
			lastTerm = t
		}
	}
	resp, err := s.replicate(ctx, lastTerm, last, nil)
	if err != nil {
		return 0, err
	}
	if resp.GetAccepted() {
		s.ack(last)
		return last + 1, nil
	}
	return s.resolve(ctx, resp, last)
}

// ship sends the records from next on.
func (s *shipper) ship(ctx context.Context, next uint64) (uint64, error) {
	prevTerm, entries, err := s.g.r.ReadLog(ctx, next-1, shipMaxEntries, shipMaxBytes)
	if errors.Is(err, replica.ErrCompacted) {
		return s.install(ctx, fmt.Sprintf("the primary's log no longer holds record %d", next))
	}
	if err != nil {
		return 0, fmt.Errorf("read log after %d: %w", next-1, err)
	}
	if len(entries) == 0 {
		return next, nil
	}
	resp, err := s.replicate(ctx, prevTerm, next-1, entries)
	if err != nil {
		return 0, err
	}
	if resp.GetAccepted() {
		end := entries[len(entries)-1].GetSeq()
		if s.recoveringState() {
			size := 0
			for _, e := range entries {
				size += len(e.GetOp())
			}
			s.recovering().add(int64(size), int64(len(entries)))
		}
		s.ack(end)
		return end + 1, nil
	}
	_, last := s.g.r.LastApplied()
	return s.resolve(ctx, resp, last)
}

// resolve decides where to continue after the follower refused a batch:
// from the end of its log when that is a prefix of the primary's, else
// with a full copy.
func (s *shipper) resolve(ctx context.Context, resp *shoalv1.ReplicateResponse, last uint64) (uint64, error) {
	if resp.GetTerm() > s.g.term {
		s.g.fence(resp.GetTerm())
		return 0, errFenced
	}
	if resp.GetNeedsCopy() {
		return s.install(ctx, "the target's replica is an unfinished copy")
	}
	fs, ft := resp.GetLastSeq(), resp.GetLastTerm()
	if fs == 0 {
		if last > 0 && s.recoveringState() {
			return s.install(ctx, "the target holds no copy")
		}
		return 1, nil
	}
	if fs <= last {
		t, ok, err := s.g.r.TermAt(ctx, fs)
		if err != nil {
			return 0, fmt.Errorf("term of record %d: %w", fs, err)
		}
		if ok && t == ft {
			s.ack(fs)
			return fs + 1, nil
		}
		if !ok {
			return s.install(ctx, fmt.Sprintf("the primary's log no longer holds the target's last record %d", fs))
		}
		return s.install(ctx, fmt.Sprintf("the target's log diverges at record %d (term %d, the primary's %d)", fs, ft, t))
	}
	return s.install(ctx, fmt.Sprintf("the target's log ends at record %d, beyond the primary's %d", fs, last))
}

// recoveringState reports whether the follower is being brought back or
// added (Partial or Recovery), so what it is sent is a transfer.
func (s *shipper) recoveringState() bool {
	st := shoalv1.ReplicaState(s.state.Load())
	return st == shoalv1.ReplicaState_REPLICA_STATE_PARTIAL || st == shoalv1.ReplicaState_REPLICA_STATE_RECOVERY
}

func (s *shipper) replicate(ctx context.Context, prevTerm, prevSeq uint64, entries []*shoalv1.LogEntry) (*shoalv1.ReplicateResponse, error) {
	cl, err := s.g.c.peers.client(s.node)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	resp, err := cl.Replicate(rctx, connect.NewRequest(&shoalv1.ReplicateRequest{
		Shard: s.g.key.ref(), Term: s.g.term, Primary: s.g.c.cfg.NodeID,
		PrevTerm: prevTerm, PrevSeq: prevSeq, Entries: entries,
	}))
	if err != nil {
		return nil, fmt.Errorf("replicate to node %d: %w", s.node, err)
	}
	return resp.Msg, nil
}

func (s *shipper) ack(seq uint64) {
	if seq > s.acked.Load() {
		s.acked.Store(seq)
	}
	s.g.notify()
}

// failed notes a failed call; a follower that keeps failing for DeadAfter
// is marked Dead (an Initializing one is left to the collection's
// activation).
func (s *shipper) failed(ctx context.Context, err error, log zerolog.Logger) {
	now := time.Now()
	if s.failingSince.IsZero() {
		s.failingSince = now
		log.Warn().Err(err).Msg("shipping to follower failed; retrying")
		return
	}
	st := shoalv1.ReplicaState(s.state.Load())
	if now.Sub(s.failingSince) < s.g.c.cfg.DeadAfter || st == shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING {
		return
	}
	log.Warn().Err(err).Dur("failing_for", now.Sub(s.failingSince)).Msg("marking follower dead")
	if err := s.g.setFollowerState(ctx, s.node, shoalv1.ReplicaState_REPLICA_STATE_DEAD, cluster.Updatable); err != nil {
		log.Warn().Err(err).Msg("mark follower dead")
	}
}

// caughtUp runs when the follower holds everything the primary has
// logged: it hands the primary role over when the map asks for it (see
// group.handOverTo), and sets a Partial or Recovery follower Active.
func (s *shipper) caughtUp(ctx context.Context, last uint64) {
	if s.acked.Load() >= last {
		s.g.handOverTo(ctx, s.node)
	}
	st := shoalv1.ReplicaState(s.state.Load())
	if st != shoalv1.ReplicaState_REPLICA_STATE_PARTIAL && st != shoalv1.ReplicaState_REPLICA_STATE_RECOVERY {
		if s.acked.Load() >= last {
			s.finish(nil) // a copy to a Listener or Initializing replica
		}
		return
	}
	if s.acked.Load() < last || time.Since(s.lastPromote) < 500*time.Millisecond {
		return
	}
	s.lastPromote = time.Now()
	recovering := func(st shoalv1.ReplicaState) bool {
		return st == shoalv1.ReplicaState_REPLICA_STATE_PARTIAL || st == shoalv1.ReplicaState_REPLICA_STATE_RECOVERY
	}
	if err := s.g.setFollowerState(ctx, s.node, shoalv1.ReplicaState_REPLICA_STATE_ACTIVE, recovering); err != nil {
		s.g.log.Warn().Err(err).Uint64("follower", s.node).Msg("set caught-up follower active")
		return
	}
	s.g.log.Info().Uint64("follower", s.node).Uint64("seq", last).Msg("follower caught up: active")
	s.finish(nil)
}
