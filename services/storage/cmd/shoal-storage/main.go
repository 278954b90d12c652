// Command shoal-storage runs a Shoal storage node: it holds shard replicas
// and serves them to routers and other storage nodes on its p2p port.
//
//	shoal-storage --meta http://meta-1:2379 --storage-path /data   # serve
//	shoal-storage healthcheck                                      # exit 0 when serving
//	shoal-storage --version
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cli"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/services/storage/app"
)

func main() {
	cli.Main(cli.Binary{
		Name:    "shoal-storage",
		Service: "storage",
		Start: func(ctx context.Context, cfg config.Config, log zerolog.Logger) (io.Closer, error) {
			return app.Start(ctx, cfg, log)
		},
		HealthURL: healthURL,
	})
}

// healthURL is the node's GET /healthz on 127.0.0.1 at the port it
// listens on: the port of node.uri, else cluster.p2p.port.
func healthURL(cfg config.Config) (string, error) {
	port := strconv.Itoa(cfg.Cluster.P2P.Port)
	if cfg.Node.URI != "" {
		u, err := url.Parse(cfg.Node.URI)
		if err != nil {
			return "", fmt.Errorf("node.uri %q: %w", cfg.Node.URI, err)
		}
		if u.Port() != "" {
			port = u.Port()
		}
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz", nil
}
