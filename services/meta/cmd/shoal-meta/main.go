// Command shoal-meta runs a meta node: embedded etcd (the cluster state's
// Raft log), embedded NATS and the MetaService API.
//
//	shoal-meta --uri http://meta-1:6335
//	shoal-meta --uri http://meta-2:6335 --bootstrap http://meta-1:6335
//	shoal-meta healthcheck        # exit 0 while this member knows a Raft leader
//	shoal-meta --version
//
// A --bootstrap that names the node's own peer URL is ignored (see
// etcdserver.NewSettings), so every pod of a StatefulSet can share one
// template that bootstraps from pod 0.
package main

import (
	"context"
	"io"
	"net"
	"strconv"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cli"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/services/meta/app"
)

func main() {
	cli.Main(cli.Binary{
		Name:    "shoal-meta",
		Service: "meta",
		Start: func(ctx context.Context, cfg config.Config, log zerolog.Logger) (io.Closer, error) {
			return app.Start(ctx, cfg, log)
		},
		// The node's GET /healthz on meta.api_port answers 200 while the
		// etcd member knows a Raft leader.
		HealthURL: func(cfg config.Config) (string, error) {
			return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Meta.APIPort)) + "/healthz", nil
		},
	})
}
