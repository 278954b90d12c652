package grpcapi

import (
	"context"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/pkg/version"
)

// healthCheckProcedure needs no API key, like the REST health checks.
const healthCheckProcedure = "/qdrant.Qdrant/HealthCheck"

func (s *Server) registerQdrant() {
	unary(s, healthCheckProcedure, false, func(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
		commit := version.Commit
		return &qdrant.HealthCheckReply{Title: "qdrant - vector search engine", Version: version.QdrantCompatible, Commit: &commit}, nil
	})
}
