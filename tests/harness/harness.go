// Package harness starts a whole Shoal cluster inside one test process:
// meta nodes (embedded etcd and NATS), storage nodes and a router, on free
// loopback ports with data in the test's temporary directory. Every tier's
// tests that need real peers use it, the way etcd's integration framework
// serves etcd's tests.
package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/logging"
	metaapp "github.com/shoaldb/shoal/services/meta/app"
	routerapp "github.com/shoaldb/shoal/services/router/app"
	storageapp "github.com/shoaldb/shoal/services/storage/app"
)

// Options shape the cluster. Zero values give 1 meta node, 3 storage nodes
// and 1 router.
type Options struct {
	MetaNodes    int
	StorageNodes int
	// Configure, if set, adjusts each node's configuration before it
	// starts; tier is "meta", "storage" or "router".
	Configure func(tier string, i int, cfg *config.Config)
}

// Cluster is a running in-process cluster. Its methods fail the test on
// error. Nodes are stopped by t.Cleanup.
type Cluster struct {
	t   testing.TB
	Dir string
	// URL is the router's REST base URL, e.g. http://127.0.0.1:41234.
	URL string
	// GRPCAddr is the router's gRPC host:port (gRPC, gRPC-Web, Connect).
	GRPCAddr string

	Meta    []*metaapp.App
	Storage []*storageapp.App
	Router  *routerapp.App

	metaCfgs    []config.Config
	storageCfgs []config.Config
	routerCfg   config.Config
	log         zerolog.Logger
}

// Start brings a cluster up and waits until the router is ready.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.MetaNodes == 0 {
		opts.MetaNodes = 1
	}
	if opts.StorageNodes == 0 {
		opts.StorageNodes = 3
	}
	c := &Cluster{t: t, Dir: t.TempDir(), log: testLogger(t)}
	t.Cleanup(c.stopAll)

	var endpoints []string
	for i := 0; i < opts.MetaNodes; i++ {
		cfg := config.Default()
		cfg.Node.URI = "http://127.0.0.1:" + strconv.Itoa(FreePort(t))
		cfg.Node.Name = fmt.Sprintf("meta-%d", i)
		if i > 0 {
			cfg.Node.Bootstrap = c.metaCfgs[0].Node.URI
		}
		cfg.Meta.ClientPort = FreePort(t)
		cfg.Meta.APIPort = FreePort(t)
		cfg.Meta.NATSPort = FreePort(t)
		cfg.Meta.NATSClusterPort = FreePort(t)
		cfg.Meta.DataDir = filepath.Join(c.Dir, cfg.Node.Name)
		cfg.Storage.StoragePath = cfg.Meta.DataDir
		if opts.Configure != nil {
			opts.Configure("meta", i, &cfg)
		}
		c.metaCfgs = append(c.metaCfgs, cfg)
		c.Meta = append(c.Meta, nil)
		c.StartMeta(i)
		endpoints = append(endpoints, fmt.Sprintf("http://127.0.0.1:%d", cfg.Meta.ClientPort))
	}
	for i := 0; i < opts.StorageNodes; i++ {
		cfg := config.Default()
		port := FreePort(t)
		cfg.Node.URI = "http://127.0.0.1:" + strconv.Itoa(port)
		cfg.Cluster.P2P.Port = port
		cfg.Meta.Endpoints = endpoints
		cfg.Storage.StoragePath = filepath.Join(c.Dir, fmt.Sprintf("storage-%d", i))
		if opts.Configure != nil {
			opts.Configure("storage", i, &cfg)
		}
		c.storageCfgs = append(c.storageCfgs, cfg)
		c.Storage = append(c.Storage, nil)
		c.StartStorage(i)
	}
	cfg := config.Default()
	cfg.Service.Host = "127.0.0.1"
	cfg.Service.HTTPPort = FreePort(t)
	cfg.Service.GRPCPort = FreePort(t)
	cfg.Node.URI = fmt.Sprintf("http://127.0.0.1:%d", cfg.Service.HTTPPort)
	cfg.Meta.Endpoints = endpoints
	cfg.Storage.StoragePath = filepath.Join(c.Dir, "router")
	if opts.Configure != nil {
		opts.Configure("router", 0, &cfg)
	}
	c.routerCfg = cfg
	c.StartRouter()
	return c
}

// MetaConfig returns meta node i's configuration.
func (c *Cluster) MetaConfig(i int) config.Config { return c.metaCfgs[i] }

// StorageConfig returns storage node i's configuration.
func (c *Cluster) StorageConfig(i int) config.Config { return c.storageCfgs[i] }

// ConfigureStorage changes storage node i's configuration for its next
// start (e.g. its node type).
func (c *Cluster) ConfigureStorage(i int, fn func(cfg *config.Config)) { fn(&c.storageCfgs[i]) }

// StartMeta starts meta node i (again, on the same data directory).
func (c *Cluster) StartMeta(i int) {
	c.t.Helper()
	app, err := metaapp.Start(c.ctx(), c.metaCfgs[i], c.log.With().Str("node", c.metaCfgs[i].Node.Name).Logger())
	if err != nil {
		c.t.Fatalf("start meta %d: %v", i, err)
	}
	c.Meta[i] = app
}

// StopMeta stops meta node i gracefully.
func (c *Cluster) StopMeta(i int) {
	c.t.Helper()
	if c.Meta[i] == nil {
		return
	}
	if err := c.Meta[i].Close(); err != nil {
		c.t.Errorf("stop meta %d: %v", i, err)
	}
	c.Meta[i] = nil
}

// StartStorage starts storage node i (again, on the same data directory).
func (c *Cluster) StartStorage(i int) {
	c.t.Helper()
	app, err := storageapp.Start(c.ctx(), c.storageCfgs[i], c.log.With().Str("node", fmt.Sprintf("storage-%d", i)).Logger())
	if err != nil {
		c.t.Fatalf("start storage %d: %v", i, err)
	}
	c.Storage[i] = app
}

// StopStorage stops storage node i gracefully.
func (c *Cluster) StopStorage(i int) {
	c.t.Helper()
	if c.Storage[i] == nil {
		return
	}
	if err := c.Storage[i].Close(); err != nil {
		c.t.Errorf("stop storage %d: %v", i, err)
	}
	c.Storage[i] = nil
}

// StartRouter starts the router and waits for /readyz.
func (c *Cluster) StartRouter() {
	c.t.Helper()
	app, err := routerapp.Start(c.ctx(), c.routerCfg, c.log.With().Str("node", "router").Logger())
	if err != nil {
		c.t.Fatalf("start router: %v", err)
	}
	c.Router = app
	c.URL = "http://" + app.HTTPAddr()
	c.GRPCAddr = app.GRPCAddr()
	c.WaitReady()
}

// StopRouter stops the router.
func (c *Cluster) StopRouter() {
	c.t.Helper()
	if c.Router == nil {
		return
	}
	if err := c.Router.Close(); err != nil {
		c.t.Errorf("stop router: %v", err)
	}
	c.Router = nil
}

// WaitReady polls the router's /readyz until it answers 200 (30 s at most).
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := httpClient.Get(c.URL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("router not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) stopAll() {
	c.StopRouter()
	for i := range c.Storage {
		c.StopStorage(i)
	}
	for i := len(c.Meta) - 1; i >= 0; i-- {
		c.StopMeta(i)
	}
}

func (c *Cluster) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	c.t.Cleanup(cancel)
	return ctx
}

// FreePort returns a loopback TCP port that was free a moment ago and that
// it has not returned before in this process (so two ports asked for in a
// row differ).
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// The kernel may offer a port again once its listener is closed,
		// before whoever it was handed to has bound it.
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}

// handedOut is every port FreePort returned in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// testLogger logs to stderr at the level in SHOAL_TEST_LOG (e.g. "debug"),
// and discards logs when it is unset, so test output stays readable.
func testLogger(t testing.TB) zerolog.Logger {
	level := os.Getenv("SHOAL_TEST_LOG")
	if level == "" {
		return zerolog.Nop()
	}
	log, err := logging.New("test", level, os.Stderr)
	if err != nil {
		t.Fatalf("SHOAL_TEST_LOG: %v", err)
	}
	return log
}
