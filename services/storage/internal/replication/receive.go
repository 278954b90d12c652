package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/transfer"
	"google.golang.org/protobuf/proto"
)

// copyHeader decodes a full copy's transfer header: the shard, the
// primary's term and node, the session.
func copyHeader(h transfer.Header) (*shoalv1.InstallRequest, error) {
	req := &shoalv1.InstallRequest{}
	if err := proto.Unmarshal(h.Meta, req); err != nil {
		return nil, fmt.Errorf("%w: transfer %s: bad header: %v", ErrInstall, h.ID, err)
	}
	if req.GetShard() == nil || req.GetShard().GetCollection() != h.Collection || req.GetShard().GetShardId() != h.Shard {
		return nil, fmt.Errorf("%w: transfer %s: header names no shard or another one", ErrInstall, h.ID)
	}
	return req, nil
}

// ReceiveSnapshot is the transfer.Handler for KindSnapshot: it replaces
// this node's replica with the snapshot file at path, sent by the shard's
// primary (see shipper.sendSnapshot). It refuses a copy for a shard this
// node leads, or from a term older than the replica's.
func (c *Coordinator) ReceiveSnapshot(ctx context.Context, h transfer.Header, path string) error {
	req, err := copyHeader(h)
	if err != nil {
		return err
	}
	k := groupKeyOf(req.GetShard())
	if err := c.mayInstall(ctx, k, req); err != nil {
		return err
	}
	r, info, err := c.cfg.Replicas.Restore(ctx, req.GetShard(), path)
	if err != nil {
		return fmt.Errorf("restore snapshot from node %d: %w", req.GetPrimary(), err)
	}
	r.SetTerm(req.GetTerm())
	c.log.Info().Stringer("shard", k).Uint64("primary", req.GetPrimary()).Uint64("seq", info.Position.Seq).
		Uint64("points", info.Points).Msg("snapshot installed")
	return nil
}

// ReceiveRecords is the transfer.Handler for KindRecords: it installs
// the points of the stream at path into a fresh replica, exactly as the
// Install calls of a full copy over RPC do.
func (c *Coordinator) ReceiveRecords(ctx context.Context, h transfer.Header, path string) error {
	head, err := copyHeader(h)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open records stream: %w", err)
	}
	defer f.Close()
	stamp := func(req *shoalv1.InstallRequest) *shoalv1.InstallRequest {
		req.Shard, req.Term, req.Primary, req.Session = head.GetShard(), head.GetTerm(), head.GetPrimary(), head.GetSession()
		return req
	}
	if err := c.Install(ctx, stamp(&shoalv1.InstallRequest{First: true})); err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 256<<10)
	for {
		req := &shoalv1.InstallRequest{}
		err := readFrame(br, req)
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: records stream %s ended without its last frame", ErrInstall, h.ID)
		}
		if err != nil {
			return fmt.Errorf("%w: records stream %s: %v", ErrInstall, h.ID, err)
		}
		last := req.GetLast()
		if err := c.Install(ctx, stamp(req)); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}
