// Package cli is what the tiers' binaries share: --version, the
// healthcheck subcommand for container health checks (scratch images have
// no curl), loading the configuration and the logger, and serving until
// SIGINT or SIGTERM.
package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/logging"
	"github.com/shoaldb/shoal/pkg/version"
)

// Binary describes one tier's command.
type Binary struct {
	// Name is the command's name, e.g. "shoal-meta".
	Name string
	// Service is the tier's name in every log line, e.g. "meta".
	Service string
	// VersionExtra is appended inside the --version parentheses.
	VersionExtra string
	// LogOutput is where logs go; nil is the logging package's default.
	LogOutput io.Writer
	// StartTimeout, if set, bounds Start.
	StartTimeout func(cfg config.Config) time.Duration
	// Start starts serving; the returned Closer stops. ctx ends at the
	// first SIGINT or SIGTERM (or at StartTimeout during Start).
	Start func(ctx context.Context, cfg config.Config, log zerolog.Logger) (io.Closer, error)
	// HealthURL is the URL `<name> healthcheck` asks, from the same
	// configuration the server reads.
	HealthURL func(cfg config.Config) (string, error)
}

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitConfig = 2
)

// Main runs the command with os.Args and exits: `healthcheck [flags]`,
// `--version`, or the server.
func Main(b Binary) {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(b.healthcheck(os.Args[2:]))
	}
	if slices.Contains(os.Args[1:], "--version") {
		fmt.Printf("%s %s (commit %s, built %s%s)\n", b.Name, version.Version, version.Commit, version.Date, b.VersionExtra)
		return
	}
	os.Exit(b.serve(os.Args[1:]))
}

func (b Binary) serve(args []string) int {
	cfg, err := config.Load(b.Name, args, nil)
	if config.IsHelp(err) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", b.Name, err)
		return exitConfig
	}
	log, err := logging.New(b.Service, cfg.LogLevel, b.LogOutput)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", b.Name, err)
		return exitConfig
	}
	log.Info().Str("version", version.Version).Str("commit", version.Commit).Msg("starting " + b.Name)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := ctx, context.CancelFunc(func() {})
	if b.StartTimeout != nil {
		startCtx, cancel = context.WithTimeout(ctx, b.StartTimeout(cfg))
	}
	server, err := b.Start(startCtx, cfg, log)
	cancel()
	if err != nil {
		log.Error().Err(err).Msg("start " + b.Service)
		return exitFailed
	}
	<-ctx.Done()
	log.Info().Msg("shutting down")
	if err := server.Close(); err != nil {
		log.Error().Err(err).Msg("stop " + b.Service)
		return exitFailed
	}
	return exitOK
}

// healthcheck asks the node's own health endpoint. It prints the version
// and the answer and returns 0 for a 2xx answer, 1 otherwise, 2 for a bad
// configuration.
func (b Binary) healthcheck(args []string) int {
	name := b.Name + " healthcheck"
	cfg, err := config.Load(name, args, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return exitConfig
	}
	target, err := b.HealthURL(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return exitConfig
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return exitConfig
	}
	prefix := fmt.Sprintf("%s %s (commit %s, built %s): GET %s", b.Name, version.Version, version.Commit, version.Date, target)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Printf("%s: %v\n", prefix, err)
		return exitFailed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	fmt.Printf("%s: %s %s\n", prefix, resp.Status, strings.TrimSpace(string(body)))
	if resp.StatusCode/100 != 2 {
		return exitFailed
	}
	return exitOK
}
