// Command shoal-router runs Shoal's router tier: the stateless Qdrant REST
// API (default port 6333) in front of the storage tier.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/logging"
	"github.com/shoaldb/shoal/pkg/version"
	"github.com/shoaldb/shoal/services/router/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shoal-router:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load("shoal-router", os.Args[1:], nil)
	if config.IsHelp(err) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := logging.New("router", cfg.LogLevel, os.Stderr)
	if err != nil {
		return err
	}
	log.Info().Str("version", version.Version).Str("commit", version.Commit).Msg("starting shoal-router")

	// Starting needs meta: give up after cluster.consensus.bootstrap_timeout_sec.
	startCtx, cancel := context.WithTimeout(context.Background(), time.Duration(max(cfg.Cluster.Consensus.BootstrapTimeoutSec, 1))*time.Second)
	a, err := app.Start(startCtx, cfg, log)
	cancel()
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	log.Info().Str("http", a.HTTPAddr()).Uint64("node_id", a.NodeID()).Msg("serving the Qdrant REST API")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info().Str("signal", s.String()).Msg("shutting down")
	return a.Close()
}
