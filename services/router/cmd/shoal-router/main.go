// Command shoal-router runs Shoal's router tier: the stateless Qdrant REST
// API (default port 6333) in front of the storage tier.
//
//	shoal-router --meta http://meta-1:2379   # serve
//	shoal-router healthcheck                 # exit 0 when this router is ready
//	shoal-router --version
package main

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cli"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/version"
	"github.com/shoaldb/shoal/services/router/app"
)

func main() {
	cli.Main(cli.Binary{
		Name:         "shoal-router",
		Service:      "router",
		VersionExtra: ", Qdrant API " + version.QdrantCompatible,
		LogOutput:    os.Stderr,
		// Starting needs meta: give up after cluster.consensus.bootstrap_timeout_sec.
		StartTimeout: func(cfg config.Config) time.Duration {
			return time.Duration(max(cfg.Cluster.Consensus.BootstrapTimeoutSec, 1)) * time.Second
		},
		Start: func(ctx context.Context, cfg config.Config, log zerolog.Logger) (io.Closer, error) {
			a, err := app.Start(ctx, cfg, log)
			if err != nil {
				return nil, err
			}
			log.Info().Str("http", a.HTTPAddr()).Str("grpc", a.GRPCAddr()).Uint64("node_id", a.NodeID()).Msg("serving the Qdrant REST and gRPC APIs")
			return a, nil
		},
		// The router's GET /readyz at service.host:service.http_port
		// (127.0.0.1 when the host is a wildcard).
		HealthURL: func(cfg config.Config) (string, error) {
			host := cfg.Service.Host
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			return "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Service.HTTPPort)) + "/readyz", nil
		},
	})
}
