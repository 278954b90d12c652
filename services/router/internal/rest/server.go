// Package rest serves Qdrant's REST API (OpenAPI 1.19) on top of the
// service package: it decodes requests, calls the service and encodes
// results in Qdrant's envelope {"result", "status": "ok", "time"} or its
// error shape {"status": {"error"}, "time"}.
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"github.com/shoaldb/shoal/services/router/internal/metrics"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Default request deadlines, for requests without a `timeout` parameter:
// a stalled node must not hold a request forever. Catalog changes get a
// shorter one: creating a collection waits for its replicas to start, and
// a cluster that cannot start them should answer while the client still
// listens.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultCatalogTimeout = 30 * time.Second
)

// Options configure the REST server.
type Options struct {
	// MaxBodyBytes limits request bodies (413 beyond it).
	MaxBodyBytes int64
	// CORS allows cross-origin requests from any origin.
	CORS bool
	// APIKey, when set, is required on every request except the health
	// checks (header `api-key` or `Authorization: Bearer <key>`).
	APIKey string
	// ReadOnlyAPIKey, when set, is accepted for requests that do not
	// change anything.
	ReadOnlyAPIKey string
	// Metrics, if set, counts every request and serves /metrics and
	// /telemetry.
	Metrics *metrics.Registry
	// StartedAt is when the router started (telemetry's app.startup).
	StartedAt time.Time
	Log       zerolog.Logger
}

// Server is the REST API's HTTP handler.
type Server struct {
	svc *service.Service
	opt Options
	mux *http.ServeMux
}

// New builds the handler.
func New(svc *service.Service, opt Options) *Server {
	s := &Server{svc: svc, opt: opt, mux: http.NewServeMux()}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler. Every request is counted in Metrics
// under its route pattern.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opt.Metrics == nil {
		s.serve(w, r)
		return
	}
	start := time.Now()
	_, pattern := s.mux.Handler(r)
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	s.serve(sw, r)
	endpoint := pattern
	if _, p, ok := strings.Cut(pattern, " "); ok {
		endpoint = p
	}
	endpoint = strings.TrimSuffix(endpoint, "{$}")
	s.opt.Metrics.Observe(metrics.Key{API: metrics.REST, Method: r.Method, Endpoint: endpoint, Status: strconv.Itoa(sw.code)}, sw.code >= 400, time.Since(start))
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.opt.CORS {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "*")
			h.Set("Access-Control-Max-Age", "3600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if err := s.authorize(r); err != nil {
		writeError(w, time.Now(), err, s.opt.Log, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// readOnlyRoutes are the POST paths (by their last element) that only read.
var readOnlyRoutes = []string{
	"/points", "/points/search", "/points/query", "/points/scroll", "/points/count",
	"/points/query/batch", "/points/search/batch", "/points/recommend", "/points/recommend/batch", "/points/discover", "/points/discover/batch",
	"/points/query/groups", "/points/search/groups", "/points/recommend/groups", "/facet",
	"/points/search/matrix/pairs", "/points/search/matrix/offsets",
}

// authorize checks the API key, when one is configured. Health checks
// need none; GET and the read-only POSTs accept the read-only key.
func (s *Server) authorize(r *http.Request) error {
	keys := apikey.Keys{Full: s.opt.APIKey, ReadOnly: s.opt.ReadOnlyAPIKey}
	if !keys.Enabled() {
		return nil
	}
	switch r.URL.Path {
	case "/healthz", "/livez", "/readyz":
		return nil
	}
	return keys.Check(r.Header, !isRead(r))
}

// isRead reports whether a request only reads: GET and HEAD, and the
// read-only POSTs.
func isRead(r *http.Request) bool {
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return true
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/collections/"):
		for _, suffix := range readOnlyRoutes {
			if strings.HasSuffix(r.URL.Path, suffix) {
				return true
			}
		}
	}
	return false
}

// apiHandler is an endpoint: it returns the result to wrap in the envelope.
type apiHandler func(r *http.Request, body []byte) (any, error)

// api adapts an apiHandler: it reads the body (bounded), applies the
// request timeout (DefaultTimeout unless the request gives one), writes the
// envelope or the error.
func (s *Server) api(h apiHandler) http.HandlerFunc { return s.apiWithin(DefaultTimeout, h) }

// apiWithin is api with another default timeout.
func (s *Server) apiWithin(timeout time.Duration, h apiHandler) http.HandlerFunc {
	return s.handle(timeout, true, h)
}

// handle serves h under the request's timeout (default timeout), with
// the body read first when readBody (bounded by MaxBodyBytes), and writes
// the envelope, Qdrant's 202 for errAccepted, or the error.
func (s *Server) handle(timeout time.Duration, readBody bool, h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel, err := requestContext(r, timeout)
		if err != nil {
			writeError(w, start, err, s.opt.Log, r)
			return
		}
		defer cancel()
		r = r.WithContext(ctx)
		var body []byte
		if readBody {
			if body, err = s.readBody(w, r); err != nil {
				writeError(w, start, err, s.opt.Log, r)
				return
			}
		}
		res, err := h(r, body)
		code := s.finish(w, r, start, res, err)
		s.opt.Log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", code).Dur("took", time.Since(start)).Msg("request")
	}
}

// finish writes a handler's answer: the envelope, Qdrant's 202 for
// errAccepted (an operation started with wait=false), or the error. It
// returns the status written.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, start time.Time, res any, err error) int {
	var accepted errAccepted
	switch {
	case errors.As(err, &accepted):
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "time": time.Since(start).Seconds()})
		return http.StatusAccepted
	case err != nil:
		return writeError(w, start, err, s.opt.Log, r)
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": res, "status": "ok", "time": time.Since(start).Seconds()})
	return http.StatusOK
}

// requestContext applies the `timeout` query parameter (seconds) or the
// default timeout, and on reads the `consistency` parameter.
func requestContext(r *http.Request, timeout time.Duration) (context.Context, context.CancelFunc, error) {
	if t := r.URL.Query().Get("timeout"); t != "" {
		secs, err := strconv.ParseUint(t, 10, 32)
		if err != nil || secs == 0 {
			return nil, nil, apierr.New(apierr.BadRequest, "Query deserialize error: timeout: invalid value %q, expected a positive number of seconds", t)
		}
		timeout = time.Duration(secs) * time.Second
	}
	ctx := r.Context()
	if isRead(r) {
		// Qdrant's read consistency, honoured by every shard read of the
		// request (see routing.WithConsistency).
		rc, err := routing.ParseConsistency(r.URL.Query().Get("consistency"))
		if err != nil {
			return nil, nil, err
		}
		ctx = routing.WithConsistency(ctx, rc)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, nil
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, apierr.New(apierr.TooLarge, "Payload error: JSON payload is larger than allowed (limit: %d bytes).", tooBig.Limit)
	}
	if err != nil {
		return nil, apierr.New(apierr.BadRequest, "Payload error: %v", err)
	}
	return body, nil
}

// queryBool decodes an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, apierr.New(apierr.BadRequest, "Query deserialize error: %s: invalid value %q, expected true or false", name, v)
}

// checkOrdering accepts Qdrant's write `ordering` parameter. Every write
// is ordered through the shard (see docs), at least as strong as Qdrant's
// `strong`, so the value has no further effect.
func checkOrdering(r *http.Request) error {
	switch v := r.URL.Query().Get("ordering"); v {
	case "", "weak", "medium", "strong":
		return nil
	default:
		return apierr.New(apierr.BadRequest, "Query deserialize error: ordering: unknown variant `%s`, expected one of `weak`, `medium`, `strong`", v)
	}
}

// StatusCode maps an error kind to its HTTP status, as Qdrant does.
func StatusCode(k apierr.Kind) int {
	switch k {
	case apierr.BadRequest:
		return http.StatusBadRequest
	case apierr.Validation:
		return http.StatusUnprocessableEntity
	case apierr.NotFound:
		return http.StatusNotFound
	case apierr.Conflict:
		return http.StatusConflict
	case apierr.Unavailable:
		return http.StatusServiceUnavailable
	case apierr.Timeout:
		return http.StatusRequestTimeout
	case apierr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apierr.Unauthorized:
		return http.StatusUnauthorized
	case apierr.Forbidden:
		return http.StatusForbidden
	case apierr.TooManyRequests:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// writeError writes Qdrant's error shape and returns the status;
// server-side failures are logged.
func writeError(w http.ResponseWriter, start time.Time, err error, log zerolog.Logger, r *http.Request) int {
	e := apierr.As(err)
	code := StatusCode(e.Kind)
	if code >= 500 {
		ev := log.Warn()
		if e.Kind == apierr.Internal {
			ev = log.Error()
		}
		ev.Err(err).AnErr("cause", e.Cause).Str("method", r.Method).Str("path", r.URL.Path).Int("status", code).Msg("request failed")
	}
	if code == http.StatusTooManyRequests {
		// Rate limits are per storage node and short-lived: a second is
		// enough to try again.
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, map[string]any{"status": map[string]string{"error": e.Msg}, "time": time.Since(start).Seconds(), "result": nil})
	return code
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"status":{"error":"Service internal error: encode response"},"time":0}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
