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
	"github.com/shoaldb/shoal/services/meta/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:]))
	}
	if slices.Contains(os.Args[1:], "--version") {
		fmt.Printf("shoal-meta %s (commit %s, built %s)\n", version.Version, version.Commit, version.Date)
		return
	}
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

// healthcheck is `shoal-meta healthcheck [flags]`, for container health
// checks (scratch images have no curl). It reads the configuration the
// server reads (file, environment, the same flags) and asks the node's own
// GET /healthz on 127.0.0.1:meta.api_port, which answers 200 while the
// etcd member knows a Raft leader. It prints the version and the answer
// and returns 0 for a 2xx answer, 1 otherwise, 2 for a bad configuration.
func healthcheck(args []string) int {
	cfg, err := config.Load("shoal-meta healthcheck", args, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-meta healthcheck:", err)
		return 2
	}
	target := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Meta.APIPort)) + "/healthz"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-meta healthcheck:", err)
		return 2
	}
	prefix := fmt.Sprintf("shoal-meta %s (commit %s, built %s): GET %s", version.Version, version.Commit, version.Date, target)
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
