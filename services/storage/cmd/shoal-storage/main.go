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
	"net/http"
	"net/url"
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
	"github.com/shoaldb/shoal/services/storage/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:]))
	}
	if slices.Contains(os.Args[1:], "--version") {
		fmt.Printf("shoal-storage %s (commit %s, built %s)\n", version.Version, version.Commit, version.Date)
		return
	}
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
	log.Info().Str("version", version.Version).Str("commit", version.Commit).Msg("starting shoal-storage")
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

// healthcheck is `shoal-storage healthcheck [flags]`, for container health
// checks (scratch images have no curl). It reads the configuration the
// server reads (file, environment, the same flags) and asks the node's own
// GET /healthz on 127.0.0.1 at the port the node listens on: the port of
// node.uri, else cluster.p2p.port. It prints the version and the answer and
// returns 0 for a 2xx answer, 1 otherwise, 2 for a bad configuration.
func healthcheck(args []string) int {
	cfg, err := config.Load("shoal-storage healthcheck", args, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-storage healthcheck:", err)
		return 2
	}
	port := strconv.Itoa(cfg.Cluster.P2P.Port)
	if cfg.Node.URI != "" {
		u, err := url.Parse(cfg.Node.URI)
		if err != nil {
			fmt.Fprintf(os.Stderr, "shoal-storage healthcheck: node.uri %q: %v\n", cfg.Node.URI, err)
			return 2
		}
		if u.Port() != "" {
			port = u.Port()
		}
	}
	target := "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-storage healthcheck:", err)
		return 2
	}
	prefix := fmt.Sprintf("shoal-storage %s (commit %s, built %s): GET %s", version.Version, version.Commit, version.Date, target)
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
