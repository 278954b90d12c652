package rest

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/shoaldb/shoal/pkg/version"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/metrics"
)

// metricsEndpoint serves GET /metrics in the Prometheus text format:
// app_info, collections_total, cluster_enabled and the request metrics of
// both APIs (rest_responses_*, grpc_responses_*).
func (s *Server) metricsEndpoint(w http.ResponseWriter, r *http.Request) {
	if err := checkObservabilityParams(r); err != nil {
		writeError(w, time.Now(), err, s.opt.Log, r)
		return
	}
	reg := s.opt.Metrics
	if reg == nil {
		reg = metrics.New()
	}
	gauges := []metrics.Gauge{
		{Name: "app_info", Help: "information about the server", Labels: map[string]string{"name": "shoal", "version": version.Version, "qdrant_compatible": version.QdrantCompatible}, Value: 1},
		{Name: "cluster_enabled", Help: "is cluster support enabled", Value: 1},
		{Name: "collections_total", Help: "number of collections", Value: float64(len(s.svc.ListCollections()))},
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := reg.WritePrometheus(w, gauges); err != nil {
		s.opt.Log.Debug().Err(err).Msg("write metrics")
	}
}

// checkObservabilityParams accepts the query parameters of /metrics and
// /telemetry: anonymize, per_collection (booleans; there is nothing
// per collection or private to hide yet) and details_level.
func checkObservabilityParams(r *http.Request) error {
	for _, name := range []string{"anonymize", "per_collection"} {
		if _, err := queryBool(r, name); err != nil {
			return err
		}
	}
	if v := r.URL.Query().Get("details_level"); v != "" {
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return apierr.New(apierr.BadRequest, "Query deserialize error: details_level: invalid value %q, expected a non-negative integer", v)
		}
	}
	return nil
}

// telemetry serves GET /telemetry: the router's identity, the number of
// collections, the cluster as the router sees it and the request
// statistics of both APIs.
func (s *Server) telemetry(r *http.Request, _ []byte) (any, error) {
	if err := checkObservabilityParams(r); err != nil {
		return nil, err
	}
	reg := s.opt.Metrics
	if reg == nil {
		reg = metrics.New()
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	st := s.svc.ClusterStatus(ctx)
	peers := map[string]any{}
	for id, uri := range st.Peers {
		peers[jsonUint(id)] = map[string]string{"uri": uri}
	}
	status := map[string]any{
		"number_of_peers": len(st.Peers), "term": st.Raft.Term, "commit": st.Raft.Commit, "pending_operations": 0,
		"role": "Follower", "is_voter": false, "peer_id": st.PeerID,
		"consensus_thread_status": consensusThreadJSON(st),
	}
	startup := s.opt.StartedAt
	if startup.IsZero() {
		startup = time.Now()
	}
	return map[string]any{
		"id":          jsonUint(s.svc.NodeID()),
		"app":         map[string]any{"name": "shoal", "version": version.Version, "startup": startup.UTC().Format(time.RFC3339Nano)},
		"collections": map[string]any{"number_of_collections": len(s.svc.ListCollections())},
		"cluster":     map[string]any{"enabled": true, "status": status, "peers": peers},
		"requests": map[string]any{
			"rest": map[string]any{"responses": reg.Telemetry(metrics.REST)},
			"grpc": map[string]any{"responses": reg.Telemetry(metrics.GRPC)},
		},
	}, nil
}
