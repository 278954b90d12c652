// Package server serves a storage node's internal API: the Connect
// StorageService (Connect, gRPC and gRPC-Web over h2c) and GET /healthz.
package server

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/storage/internal/node"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
	"github.com/shoaldb/shoal/services/storage/internal/replication"
	"github.com/shoaldb/shoal/services/storage/internal/snapshots"
)

// Replicas finds the replica a request names; *node.Manager implements it.
type Replicas interface {
	Replica(ctx context.Context, ref *shoalv1.ShardRef) (*replica.Replica, error)
}

// Replication is the write path and the follower side of the internal
// API; *replication.Coordinator implements it.
type Replication interface {
	Write(ctx context.Context, ref *shoalv1.ShardRef, term uint64, op *shoalv1.Operation, wait bool) (uint64, error)
	Replicate(ctx context.Context, req *shoalv1.ReplicateRequest) (*shoalv1.ReplicateResponse, error)
	Install(ctx context.Context, req *shoalv1.InstallRequest) error
	Position(ctx context.Context, ref *shoalv1.ShardRef) (*shoalv1.PositionResponse, error)
}

// maxMessageBytes bounds a request body (a large upsert batch).
const maxMessageBytes = 256 << 20

// Server implements shoalv1connect.StorageServiceHandler.
type Server struct {
	replicas Replicas
	repl     Replication
	log      zerolog.Logger

	// Shard snapshots (snapshots.go); nil until WithSnapshots.
	snaps   *snapshots.Store
	restore Restorer
	nodeID  uint64
}

var _ shoalv1connect.StorageServiceHandler = (*Server)(nil)

// New returns a server answering reads from replicas and sending writes
// through repl.
func New(replicas Replicas, repl Replication, log zerolog.Logger) *Server {
	return &Server{replicas: replicas, repl: repl, log: log}
}

// Handler returns the HTTP handler of the whole internal API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	path, h := shoalv1connect.NewStorageServiceHandler(s, connect.WithReadMaxBytes(maxMessageBytes))
	mux.Handle(path, h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

func (s *Server) replica(ctx context.Context, ref *shoalv1.ShardRef) (*replica.Replica, error) {
	if ref == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("shard is required"))
	}
	r, err := s.replicas.Replica(ctx, ref)
	if err != nil {
		return nil, s.toConnect(err)
	}
	return r, nil
}

// Upsert logs and applies an upsert. The answer comes once the write is
// durable; completed reports whether it was also applied for search
// (wait), mirroring Qdrant's completed/acknowledged.
func (s *Server) Upsert(ctx context.Context, req *connect.Request[shoalv1.UpsertRequest]) (*connect.Response[shoalv1.UpdateResponse], error) {
	op := &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{Points: req.Msg.GetPoints()}}}
	return s.write(ctx, req.Msg.GetShard(), req.Msg.GetTerm(), op, req.Msg.GetWait())
}

// DeletePoints logs and applies a delete by ids; ids that do not exist are
// ignored.
func (s *Server) DeletePoints(ctx context.Context, req *connect.Request[shoalv1.DeletePointsRequest]) (*connect.Response[shoalv1.UpdateResponse], error) {
	op := &shoalv1.Operation{Kind: &shoalv1.Operation_Delete{Delete: &shoalv1.DeletePoints{Ids: req.Msg.GetIds()}}}
	return s.write(ctx, req.Msg.GetShard(), req.Msg.GetTerm(), op, req.Msg.GetWait())
}

// GetPoints returns the requested points that exist, in request order.
func (s *Server) GetPoints(ctx context.Context, req *connect.Request[shoalv1.GetPointsRequest]) (*connect.Response[shoalv1.GetPointsResponse], error) {
	r, err := s.replica(ctx, req.Msg.GetShard())
	if err != nil {
		return nil, err
	}
	points, err := r.Get(ctx, req.Msg.GetIds(), req.Msg.GetWithPayload(), req.Msg.GetWithVector())
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(&shoalv1.GetPointsResponse{Points: points}), nil
}

// Search returns the replica's best points for a query vector.
func (s *Server) Search(ctx context.Context, req *connect.Request[shoalv1.SearchRequest]) (*connect.Response[shoalv1.SearchResponse], error) {
	r, err := s.replica(ctx, req.Msg.GetShard())
	if err != nil {
		return nil, err
	}
	points, err := r.Search(ctx, req.Msg)
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(&shoalv1.SearchResponse{Points: points}), nil
}

// Scroll returns a page of the points matching the filter, in id order or
// in the order of an indexed payload key (order_by).
func (s *Server) Scroll(ctx context.Context, req *connect.Request[shoalv1.ScrollRequest]) (*connect.Response[shoalv1.ScrollResponse], error) {
	r, err := s.replica(ctx, req.Msg.GetShard())
	if err != nil {
		return nil, err
	}
	resp, err := r.Scroll(ctx, req.Msg)
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(resp), nil
}

// Count returns the number of points matching the filter (always exact).
func (s *Server) Count(ctx context.Context, req *connect.Request[shoalv1.CountRequest]) (*connect.Response[shoalv1.CountResponse], error) {
	r, err := s.replica(ctx, req.Msg.GetShard())
	if err != nil {
		return nil, err
	}
	n, err := r.CountFilter(ctx, req.Msg.GetFilter())
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(&shoalv1.CountResponse{Count: n}), nil
}

// Update logs and applies any operation (upsert, delete by ids or filter,
// payload, vector and field-index operations). Like Upsert, it answers
// once the operation is durable; completed echoes wait. An operation
// naming a point the replica does not hold is refused as a whole with
// NotFound (see toConnect).
func (s *Server) Update(ctx context.Context, req *connect.Request[shoalv1.UpdateRequest]) (*connect.Response[shoalv1.UpdateResponse], error) {
	if req.Msg.GetOp() == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("Wrong input: op is required"))
	}
	return s.write(ctx, req.Msg.GetShard(), req.Msg.GetTerm(), req.Msg.GetOp(), req.Msg.GetWait())
}

// write sends one operation through the replication write path.
func (s *Server) write(ctx context.Context, ref *shoalv1.ShardRef, term uint64, op *shoalv1.Operation, wait bool) (*connect.Response[shoalv1.UpdateResponse], error) {
	if ref == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("shard is required"))
	}
	seq, err := s.repl.Write(ctx, ref, term, op, wait)
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(&shoalv1.UpdateResponse{Seq: seq, Completed: wait}), nil
}

// Info describes the replica: points, vectors, segments and Qdrant's
// payload_schema.
func (s *Server) Info(ctx context.Context, req *connect.Request[shoalv1.InfoRequest]) (*connect.Response[shoalv1.InfoResponse], error) {
	r, err := s.replica(ctx, req.Msg.GetShard())
	if err != nil {
		return nil, err
	}
	info, err := r.Info(ctx)
	if err != nil {
		return nil, s.toConnect(err)
	}
	return connect.NewResponse(info), nil
}

// ErrorKindHeader is set (in the error's metadata) on a NotFound that
// means "the operation names a point this replica does not hold"
// (PointNotFound), as opposed to a NotFound for a replica the node does
// not hold. The message is Qdrant's: "No point with id X found".
const (
	ErrorKindHeader = "Shoal-Error-Kind"
	PointNotFound   = "point-not-found"
	// NotPrimary marks a FailedPrecondition: this node is not the shard's
	// primary at the term the write named.
	NotPrimary = "not-primary"
	// WriteConsistency marks an Unavailable: write_consistency_factor
	// replicas could not hold the write.
	WriteConsistency = "write-consistency"
	// NoLease marks an Unavailable: the node cannot confirm its lease (no
	// meta quorum reachable) and coordinates no write.
	NoLease = "no-lease"
)

// toConnect maps an error to its Connect code: validation errors
// (including bad filters and field schemas) to InvalidArgument, an
// operation on a missing point to NotFound with ErrorKindHeader set, a
// replica not held here to NotFound, a closed replica or stopping node to
// Unavailable, context errors to theirs, anything else to Internal.
func (s *Server) toConnect(err error) error {
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return err
	case replica.IsInvalid(err):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case replica.IsNotFound(err):
		e := connect.NewError(connect.CodeNotFound, err)
		e.Meta().Set(ErrorKindHeader, PointNotFound)
		return e
	case errors.Is(err, node.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, replication.ErrNotPrimary):
		e := connect.NewError(connect.CodeFailedPrecondition, err)
		e.Meta().Set(ErrorKindHeader, NotPrimary)
		return e
	case errors.Is(err, replication.ErrConsistency):
		e := connect.NewError(connect.CodeUnavailable, err)
		e.Meta().Set(ErrorKindHeader, WriteConsistency)
		return e
	case errors.Is(err, replication.ErrNoLease):
		e := connect.NewError(connect.CodeUnavailable, err)
		e.Meta().Set(ErrorKindHeader, NoLease)
		return e
	case errors.Is(err, replication.ErrRateLimited):
		return connect.NewError(connect.CodeResourceExhausted, err)
	case errors.Is(err, replication.ErrInstall):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, replica.ErrClosed):
		return connect.NewError(connect.CodeUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	}
	s.log.Error().Err(err).Msg("storage request failed")
	return connect.NewError(connect.CodeInternal, err)
}
