package replication

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// installBatch is the number of points per Install chunk.
const installBatch = 256

// copyOverRPC sends the follower the replica's points in batches over the
// internal RPC API (Install calls): the stream_records method for a node
// without a transfer stream (no NATS configured, as in unit tests). It
// returns the copy's position.
func (s *shipper) copyOverRPC(ctx context.Context, session string, rep *report) (uint64, error) {
	cl, err := s.g.c.peers.client(s.node)
	if err != nil {
		return 0, err
	}
	send := func(req *shoalv1.InstallRequest) error {
		req.Shard, req.Term, req.Primary, req.Session = s.g.key.ref(), s.g.term, s.g.c.cfg.NodeID, session
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := cl.Install(rctx, connect.NewRequest(req)); err != nil {
			return fmt.Errorf("install on node %d: %w", s.node, err)
		}
		return nil
	}
	// The first chunk carries the snapshot's vector spaces (vector names
	// are created and deleted through the log).
	first := func(snap replica.Snapshot) error {
		return send(&shoalv1.InstallRequest{First: true, Vectors: snap.Vectors})
	}
	snap, err := s.g.r.ExportWithVectors(ctx, installBatch, first, func(batch []*shoalv1.Point) error {
		rep.add(0, int64(len(batch)))
		return send(&shoalv1.InstallRequest{Points: batch})
	})
	if err != nil {
		return 0, fmt.Errorf("export for a full copy: %w", err)
	}
	if err := send(&shoalv1.InstallRequest{Last: true, LastTerm: snap.LastTerm, LastSeq: snap.LastSeq, FieldIndexes: snap.FieldIndexes}); err != nil {
		return 0, err
	}
	return snap.LastSeq, nil
}
