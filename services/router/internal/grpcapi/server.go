// Package grpcapi serves Qdrant's gRPC API (qdrant.Qdrant,
// qdrant.Collections, qdrant.Points) through Connect handlers, so that one
// port speaks gRPC, gRPC-Web and the Connect protocol. The messages are
// the official Go client's (github.com/qdrant/go-client/qdrant); every RPC
// converts its request to the service package's Go types, calls the same
// service the REST API calls, and converts the result back. The
// conversions live in the convert_*.go files; no behaviour lives here.
//
// The server also answers grpc.health.v1 and server reflection (v1 and
// v1alpha) for the three Qdrant services.
package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/qdrant/go-client/qdrant"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"github.com/shoaldb/shoal/services/router/internal/metrics"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Services are the Qdrant gRPC services served.
var Services = []string{"qdrant.Qdrant", "qdrant.Collections", "qdrant.Points", "qdrant.Snapshots"}

// DefaultTimeout bounds a call that sets neither a gRPC deadline nor the
// request's own timeout field.
const DefaultTimeout = 60 * time.Second

// Options configure the gRPC server.
type Options struct {
	// Keys are the API keys; the health checks and reflection need none.
	Keys apikey.Keys
	// MaxMessageBytes limits request messages (ResourceExhausted beyond).
	MaxMessageBytes int
	// Metrics, if set, counts every call by procedure and status code.
	Metrics *metrics.Registry
	Log     zerolog.Logger
}

// Server is the gRPC API's HTTP handler. Serve it over h2c (and HTTP/1.1
// for gRPC-Web and Connect).
type Server struct {
	svc        *service.Service
	opt        Options
	mux        *http.ServeMux
	handlerOpt []connect.HandlerOption
	registered map[string]bool
	workers    *workers
}

// CompressMinBytes is the smallest response the gRPC API compresses for
// a client that accepts gzip: compressing the typical small search answer
// costs more CPU than the bytes it saves.
const CompressMinBytes = 16 << 10

// New builds the handler.
func New(svc *service.Service, opt Options) *Server {
	s := &Server{svc: svc, opt: opt, mux: http.NewServeMux(), registered: map[string]bool{}, workers: newWorkers()}
	s.handlerOpt = append(s.handlerOpt, connect.WithCompressMinBytes(CompressMinBytes))
	if opt.MaxMessageBytes > 0 {
		s.handlerOpt = append(s.handlerOpt, connect.WithReadMaxBytes(opt.MaxMessageBytes))
	}
	s.registerQdrant()
	s.registerCollections()
	s.registerShardKeys()
	s.registerClusterOps()
	s.registerPoints()
	s.registerPointReads()
	s.registerPointGroups()
	s.registerSnapshots()
	s.registerUnimplemented()
	s.mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(Services...)))
	reflector := grpcreflect.NewStaticReflector(append([]string{grpchealth.HealthV1ServiceName}, Services...)...)
	s.mux.Handle(grpcreflect.NewHandlerV1(reflector))
	s.mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	return s
}

// ServeHTTP implements http.Handler. HTTP/2 calls of the Qdrant services
// (all unary) run on long-lived worker goroutines (see workers.go); the
// health and reflection streams and HTTP/1.1 requests run on the request's
// goroutine.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && strings.HasPrefix(r.URL.Path, "/qdrant.") {
		s.workers.serve(s.mux, w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close lets the idle worker goroutines exit. Call it once the HTTP server
// has shut down; a request served after Close is still answered.
func (s *Server) Close() { s.workers.stop() }

// readConsistencer is a read request with Qdrant's read_consistency.
type readConsistencer interface {
	GetReadConsistency() *qdrant.ReadConsistency
}

// readConsistency converts read_consistency (nil: the default, one
// replica). A factor of 0 is invalid, as in Qdrant.
func readConsistency(rc *qdrant.ReadConsistency) (routing.Consistency, error) {
	switch v := rc.GetValue().(type) {
	case *qdrant.ReadConsistency_Factor:
		if v.Factor == 0 {
			return routing.Consistency{}, apierr.New(apierr.BadRequest, "Wrong input: read_consistency: Read consistency factor cannot be less than 1")
		}
		return routing.Consistency{Factor: int(min(v.Factor, 1<<30))}, nil
	case *qdrant.ReadConsistency_Type:
		switch v.Type {
		case qdrant.ReadConsistencyType_All:
			return routing.Consistency{Level: routing.LevelAll}, nil
		case qdrant.ReadConsistencyType_Majority:
			return routing.Consistency{Level: routing.LevelMajority}, nil
		case qdrant.ReadConsistencyType_Quorum:
			return routing.Consistency{Level: routing.LevelQuorum}, nil
		}
		return routing.Consistency{}, apierr.New(apierr.BadRequest, "Wrong input: read_consistency: unknown type %d", v.Type)
	}
	return routing.Consistency{}, nil
}

// timeouter is a request with Qdrant's optional timeout field (seconds).
type timeouter interface{ GetTimeout() uint64 }

// unary registers fn as the handler of procedure. write says whether the
// call changes anything (for the read-only API key). The handler checks
// the key, applies the deadline (the request's timeout field, else the
// gRPC deadline, else DefaultTimeout), maps errors to gRPC status codes
// and sets the response's `time` field.
func unary[Req, Res any](s *Server, procedure string, write bool, fn func(ctx context.Context, req *Req) (*Res, error)) {
	s.registered[procedure] = true
	s.mux.Handle(procedure, connect.NewUnaryHandler(procedure, func(ctx context.Context, r *connect.Request[Req]) (_ *connect.Response[Res], err error) {
		start := time.Now()
		if s.opt.Metrics != nil {
			defer func() {
				st := "ok"
				if err != nil {
					st = connect.CodeOf(err).String()
				}
				s.opt.Metrics.Observe(metrics.Key{API: metrics.GRPC, Endpoint: procedure, Status: st}, err != nil, time.Since(start))
			}()
		}
		if procedure != healthCheckProcedure {
			if err := s.opt.Keys.Check(r.Header(), write); err != nil {
				return nil, apierr.ToConnect(err)
			}
		}
		timeout := DefaultTimeout
		if t, ok := any(r.Msg).(timeouter); ok && t.GetTimeout() > 0 {
			timeout = time.Duration(min(t.GetTimeout(), 1<<31)) * time.Second
		} else if _, has := ctx.Deadline(); has {
			timeout = 0
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if rc, ok := any(r.Msg).(readConsistencer); ok {
			c, err := readConsistency(rc.GetReadConsistency())
			if err != nil {
				return nil, apierr.ToConnect(err)
			}
			ctx = routing.WithConsistency(ctx, c)
		}
		res, err := fn(ctx, r.Msg)
		var unimpl *unimplementedError
		if errors.As(err, &unimpl) {
			return nil, connect.NewError(connect.CodeUnimplemented, err)
		}
		if err != nil {
			e := apierr.As(err)
			if e.Kind == apierr.Internal {
				s.opt.Log.Error().Err(err).AnErr("cause", e.Cause).Str("procedure", procedure).Msg("gRPC call failed")
			}
			return nil, apierr.ToConnect(err)
		}
		setTime(res, time.Since(start))
		return connect.NewResponse(res), nil
	}, s.handlerOpt...))
}

// setTime sets a response's `time` field (seconds), when it has one.
func setTime(res any, d time.Duration) {
	m, ok := res.(proto.Message)
	if !ok {
		return
	}
	r := m.ProtoReflect()
	if fd := r.Descriptor().Fields().ByName("time"); fd != nil && fd.Kind() == protoreflect.DoubleKind {
		r.Set(fd, protoreflect.ValueOfFloat64(d.Seconds()))
	}
}

// registerUnimplemented answers every RPC of the served services that has
// no handler with Unimplemented and a message naming it.
func (s *Server) registerUnimplemented() {
	for _, name := range Services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			panic(fmt.Sprintf("qdrant service %s is not registered: %v", name, err))
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := 0; i < methods.Len(); i++ {
			procedure := "/" + name + "/" + string(methods.Get(i).Name())
			if s.registered[procedure] {
				continue
			}
			msg := fmt.Sprintf("%s is not supported by Shoal yet", procedure)
			unary(s, procedure, false, func(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
				return nil, errUnimplemented(msg)
			})
		}
	}
}

// unimplementedError is an error that maps to gRPC Unimplemented.
type unimplementedError struct{ msg string }

func (e *unimplementedError) Error() string { return e.msg }

func errUnimplemented(msg string) error { return &unimplementedError{msg} }
