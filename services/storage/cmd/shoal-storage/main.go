// Command shoal-storage runs a Shoal storage node: it holds shard replicas
// and serves them to routers and other storage nodes on its p2p port.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/logging"
	"github.com/shoaldb/shoal/services/storage/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shoal-storage:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load("shoal-storage", os.Args[1:], nil)
	if config.IsHelp(err) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := logging.New("storage", cfg.LogLevel, nil)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	<-ctx.Done()
	log.Info().Msg("shutting down")
	return a.Close()
}
