// Command shoal-meta runs a meta node: embedded etcd (the cluster state's
// Raft log), embedded NATS and the MetaService API.
//
//	shoal-meta --uri http://meta-1:6335
//	shoal-meta --uri http://meta-2:6335 --bootstrap http://meta-1:6335
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/logging"
	"github.com/shoaldb/shoal/pkg/version"
	"github.com/shoaldb/shoal/services/meta/app"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := config.Load("shoal-meta", os.Args[1:], nil)
	if config.IsHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-meta:", err)
		return 2
	}
	log, err := logging.New("meta", cfg.LogLevel, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-meta:", err)
		return 2
	}
	log.Info().Str("version", version.Version).Str("commit", version.Commit).Msg("starting shoal-meta")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("start meta node")
		return 1
	}
	<-ctx.Done()
	log.Info().Msg("shutting down")
	if err := a.Close(); err != nil {
		log.Error().Err(err).Msg("stop meta node")
		return 1
	}
	return 0
}
