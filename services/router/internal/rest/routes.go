package rest

import (
	"context"
	"net/http"
	"time"

	"github.com/shoaldb/shoal/pkg/version"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.root)
	m.HandleFunc("GET /healthz", s.health("healthz check passed"))
	m.HandleFunc("GET /livez", s.health("healthz check passed"))
	m.HandleFunc("GET /readyz", s.readyz)
	m.HandleFunc("GET /metrics", s.metricsEndpoint)
	m.HandleFunc("GET /telemetry", s.api(s.telemetry))

	m.HandleFunc("GET /collections", s.api(s.listCollections))
	m.HandleFunc("GET /collections/{name}", s.api(s.getCollection))
	m.HandleFunc("PUT /collections/{name}", s.apiWithin(DefaultCatalogTimeout, s.createCollection))
	m.HandleFunc("DELETE /collections/{name}", s.apiWithin(DefaultCatalogTimeout, s.deleteCollection))
	m.HandleFunc("PATCH /collections/{name}", s.apiWithin(DefaultCatalogTimeout, s.updateCollection))
	m.HandleFunc("POST /collections/aliases", s.apiWithin(DefaultCatalogTimeout, s.updateAliases))
	m.HandleFunc("GET /aliases", s.api(s.listAliases))
	m.HandleFunc("GET /collections/{name}/aliases", s.api(s.listAliases))
	m.HandleFunc("PUT /collections/{name}/index", s.api(s.updateHandler(s.createIndex)))
	m.HandleFunc("DELETE /collections/{name}/index/{field}", s.api(s.updateHandler(s.deleteIndex)))
	m.HandleFunc("GET /collections/{name}/exists", s.api(s.collectionExists))
	m.HandleFunc("GET /collections/{name}/cluster", s.api(s.collectionCluster))
	m.HandleFunc("POST /collections/{name}/cluster", s.apiWithin(DefaultCatalogTimeout, s.updateClusterSetup))
	m.HandleFunc("GET /collections/{name}/optimizations", s.api(s.getOptimizations))
	m.HandleFunc("PUT /collections/{name}/shards", s.apiWithin(DefaultCatalogTimeout, s.createShardKey))
	m.HandleFunc("POST /collections/{name}/shards/delete", s.apiWithin(DefaultCatalogTimeout, s.deleteShardKey))
	m.HandleFunc("GET /collections/{name}/shards", s.api(s.listShardKeys))
	m.HandleFunc("PUT /collections/{name}/vectors/{vector}", s.apiWithin(DefaultCatalogTimeout, s.updateHandler(s.createVectorName)))
	m.HandleFunc("DELETE /collections/{name}/vectors/{vector}", s.apiWithin(DefaultCatalogTimeout, s.updateHandler(s.deleteVectorName)))

	m.HandleFunc("PUT /collections/{name}/points", s.api(s.upsertPoints))
	m.HandleFunc("POST /collections/{name}/points", s.api(s.retrievePoints))
	m.HandleFunc("GET /collections/{name}/points/{id}", s.api(s.getPoint))
	m.HandleFunc("POST /collections/{name}/points/delete", s.api(s.deletePoints))
	m.HandleFunc("POST /collections/{name}/points/payload", s.api(s.updateHandler(s.setPayload)))
	m.HandleFunc("PUT /collections/{name}/points/payload", s.api(s.updateHandler(s.overwritePayload)))
	m.HandleFunc("POST /collections/{name}/points/payload/delete", s.api(s.updateHandler(s.deletePayload)))
	m.HandleFunc("POST /collections/{name}/points/payload/clear", s.api(s.updateHandler(s.clearPayload)))
	m.HandleFunc("PUT /collections/{name}/points/vectors", s.api(s.updateHandler(s.updateVectors)))
	m.HandleFunc("POST /collections/{name}/points/vectors/delete", s.api(s.updateHandler(s.deleteVectors)))
	m.HandleFunc("POST /collections/{name}/points/batch", s.api(s.batchUpdate))
	m.HandleFunc("POST /collections/{name}/points/search", s.api(s.searchPoints))
	m.HandleFunc("POST /collections/{name}/points/query", s.api(s.queryPoints))
	m.HandleFunc("POST /collections/{name}/points/query/batch", s.api(s.queryBatch))
	m.HandleFunc("POST /collections/{name}/points/search/batch", s.api(s.searchBatch))
	m.HandleFunc("POST /collections/{name}/points/recommend", s.api(s.recommendPoints))
	m.HandleFunc("POST /collections/{name}/points/recommend/batch", s.api(s.recommendBatch))
	m.HandleFunc("POST /collections/{name}/points/discover", s.api(s.discoverPoints))
	m.HandleFunc("POST /collections/{name}/points/discover/batch", s.api(s.discoverBatch))
	m.HandleFunc("POST /collections/{name}/points/query/groups", s.api(s.groups(decodeQueryGroups)))
	m.HandleFunc("POST /collections/{name}/points/search/groups", s.api(s.groups(decodeSearchGroups)))
	m.HandleFunc("POST /collections/{name}/points/recommend/groups", s.api(s.groups(decodeRecommendGroups)))
	m.HandleFunc("POST /collections/{name}/facet", s.api(s.facet))
	m.HandleFunc("POST /collections/{name}/points/search/matrix/pairs", s.api(s.matrix(false)))
	m.HandleFunc("POST /collections/{name}/points/search/matrix/offsets", s.api(s.matrix(true)))
	m.HandleFunc("POST /collections/{name}/points/scroll", s.api(s.scrollPoints))
	m.HandleFunc("POST /collections/{name}/points/count", s.api(s.countPoints))

	m.HandleFunc("GET /cluster", s.api(s.clusterStatus))
	m.HandleFunc("GET /cluster/telemetry", s.api(s.clusterTelemetry))
	m.HandleFunc("POST /cluster/recover", s.api(s.recoverCurrentPeer))
	m.HandleFunc("GET /quotas", s.api(s.getQuotas))
	m.HandleFunc("PUT /quotas", s.apiWithin(DefaultCatalogTimeout, s.updateQuotas))
	m.HandleFunc("DELETE /cluster/peer/{peer_id}", s.apiWithin(DefaultCatalogTimeout, s.removePeer))
	m.HandleFunc("POST /cluster/peer/{peer_id}/drain", s.apiWithin(DefaultCatalogTimeout, s.drainPeer))
	m.HandleFunc("DELETE /cluster/peer/{peer_id}/drain", s.apiWithin(DefaultCatalogTimeout, s.undrainPeer))
	m.HandleFunc("GET /issues", s.api(s.getIssues))
	m.HandleFunc("DELETE /issues", s.api(s.clearIssues))

	s.snapshotRoutes()

	// Shoal extensions (docs/COMPATIBILITY.md).
	m.HandleFunc("GET /debug/collections/{name}/digests", s.api(s.digests))

	m.HandleFunc("/", s.api(func(r *http.Request, _ []byte) (any, error) {
		return nil, apierr.New(apierr.NotFound, "Not found: %s %s", r.Method, r.URL.Path)
	}))
}

// root is VersionInfo. The version is the Qdrant version Shoal is
// compatible with, so that official clients accept the server.
func (s *Server) root(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"title":   "qdrant - vector search engine",
		"version": version.QdrantCompatible,
		"commit":  version.Commit,
	})
}

// health answers the liveness checks in plain text, as Qdrant does.
func (s *Server) health(text string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(text))
	}
}

// readyz is 200 when the router can serve (cluster state loaded, meta
// reachable), 503 otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.svc.Ready(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(err.Error()))
		return
	}
	_, _ = w.Write([]byte("all shards are ready"))
}

func (s *Server) clusterStatus(r *http.Request, _ []byte) (any, error) {
	return clusterStatusJSON(s.svc.ClusterStatus(r.Context())), nil
}

func (s *Server) collectionCluster(r *http.Request, _ []byte) (any, error) {
	info, err := s.svc.CollectionClusterInfo(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return collectionClusterJSON(info), nil
}
