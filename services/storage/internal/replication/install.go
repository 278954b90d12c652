package replication

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// installBatch is the number of points per Install chunk.
const installBatch = 256

// install sends the follower a full copy of the primary's replica: a
// consistent snapshot in chunks, then the snapshot's position, after which
// shipping continues from the log. An Active follower is first set
// Partial, so that it serves no reads and counts for no write while its
// contents are replaced.
func (s *shipper) install(ctx context.Context) (uint64, error) {
	if shoalv1.ReplicaState(s.state.Load()) == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
		active := func(st shoalv1.ReplicaState) bool { return st == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE }
		if err := s.g.setFollowerState(ctx, s.node, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL, active); err != nil {
			return 0, fmt.Errorf("set follower partial before a full copy: %w", err)
		}
		s.state.Store(int32(shoalv1.ReplicaState_REPLICA_STATE_PARTIAL))
		s.g.notify()
	}
	cl, err := s.g.c.peers.client(s.node)
	if err != nil {
		return 0, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	session := hex.EncodeToString(id[:])
	send := func(req *shoalv1.InstallRequest) error {
		req.Shard, req.Term, req.Primary, req.Session = s.g.key.ref(), s.g.term, s.g.c.cfg.NodeID, session
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := cl.Install(rctx, connect.NewRequest(req)); err != nil {
			return fmt.Errorf("install on node %d: %w", s.node, err)
		}
		return nil
	}
	start := time.Now()
	if err := send(&shoalv1.InstallRequest{First: true}); err != nil {
		return 0, err
	}
	points := 0
	snap, err := s.g.r.Export(ctx, installBatch, func(batch []*shoalv1.Point) error {
		points += len(batch)
		return send(&shoalv1.InstallRequest{Points: batch})
	})
	if err != nil {
		return 0, fmt.Errorf("export for a full copy: %w", err)
	}
	if err := send(&shoalv1.InstallRequest{Last: true, LastTerm: snap.LastTerm, LastSeq: snap.LastSeq, FieldIndexes: snap.FieldIndexes}); err != nil {
		return 0, err
	}
	s.g.log.Info().Uint64("follower", s.node).Int("points", points).Uint64("seq", snap.LastSeq).
		Dur("took", time.Since(start)).Msg("full copy installed on follower")
	s.ack(snap.LastSeq)
	return snap.LastSeq + 1, nil
}
