// Command shoal-router runs Shoal's router tier: the stateless Qdrant REST
// API (default port 6333) in front of the storage tier.
//
//	shoal-router --meta http://meta-1:2379   # serve
//	shoal-router healthcheck                 # exit 0 when this router is ready
//	shoal-router --version
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/logging"
	"github.com/shoaldb/shoal/pkg/version"
	"github.com/shoaldb/shoal/services/router/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:]))
	}
	if slices.Contains(os.Args[1:], "--version") {
		fmt.Printf("shoal-router %s (commit %s, built %s, Qdrant API %s)\n", version.Version, version.Commit, version.Date, version.QdrantCompatible)
		return
	}
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
	log.Info().Str("http", a.HTTPAddr()).Str("grpc", a.GRPCAddr()).Uint64("node_id", a.NodeID()).Msg("serving the Qdrant REST and gRPC APIs")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info().Str("signal", s.String()).Msg("shutting down")
	return a.Close()
}

// healthcheck is `shoal-router healthcheck [flags]`, for container health
// checks (scratch images have no curl). It reads the configuration the
// server reads (file, environment, the same flags) and asks the router's
// own GET /readyz at service.host:service.http_port (127.0.0.1 when the
// host is a wildcard). It prints the version and the answer and returns 0
// for a 2xx answer, 1 otherwise, 2 for a bad configuration.
func healthcheck(args []string) int {
	cfg, err := config.Load("shoal-router healthcheck", args, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-router healthcheck:", err)
		return 2
	}
	host := cfg.Service.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Service.HTTPPort)) + "/readyz"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-router healthcheck:", err)
		return 2
	}
	prefix := fmt.Sprintf("shoal-router %s (commit %s, built %s): GET %s", version.Version, version.Commit, version.Date, url)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Printf("%s: %v\n", prefix, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	fmt.Printf("%s: %s %s\n", prefix, resp.Status, strings.TrimSpace(string(body)))
	if resp.StatusCode/100 != 2 {
		return 1
	}
	return 0
}
