// Package app assembles the router: the etcd client to the meta tier, the
// watched cluster state and alias table, the node registration, the
// storage and meta clients, the service, the REST server and the gRPC
// server. The cmd binary and the
// in-process test harness both use it.
package app

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/version"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/aliases"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"github.com/shoaldb/shoal/services/router/internal/clients"
	"github.com/shoaldb/shoal/services/router/internal/grpcapi"
	"github.com/shoaldb/shoal/services/router/internal/metrics"
	"github.com/shoaldb/shoal/services/router/internal/rest"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
	"github.com/shoaldb/shoal/services/router/internal/snapshots"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// App is a running router.
type App struct {
	log    zerolog.Logger
	nodeID uint64
	etcd   *clientv3.Client
	state  *cluster.State
	alias  *aliases.Table
	reg    *cluster.Registration
	pool   *clients.Pool
	srv    *http.Server
	ln     net.Listener
	served chan struct{}

	grpcAPI    *grpcapi.Server
	grpcSrv    *http.Server
	grpcLn     net.Listener
	grpcServed chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Start connects to the meta tier, loads the cluster state and aliases,
// starts the REST server on cfg.Service.Host:HTTPPort and the gRPC server
// (gRPC, gRPC-Web and Connect over h2c and HTTP/1.1) on
// cfg.Service.Host:GRPCPort (port 0 picks a free one) and registers the
// router. It returns once both serve. On error everything started so far
// is stopped.
func Start(ctx context.Context, cfg config.Config, log zerolog.Logger) (_ *App, err error) {
	a := &App{log: log, served: make(chan struct{}), grpcServed: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	if a.nodeID, err = nodeID(cfg, log); err != nil {
		return nil, err
	}
	a.log = log.With().Uint64("node_id", a.nodeID).Logger()
	if a.etcd, err = cluster.NewClient(cfg.Meta.Endpoints, a.log); err != nil {
		return nil, err
	}
	if a.state, err = cluster.WatchState(ctx, a.etcd, a.log); err != nil {
		return nil, fmt.Errorf("watch cluster state: %w", err)
	}
	if a.alias, err = aliases.Watch(ctx, a.etcd, a.log); err != nil {
		return nil, fmt.Errorf("watch aliases: %w", err)
	}
	a.pool = clients.NewPool()
	rt := routing.New(a.state, a.pool, nil)
	rt.SetLog(a.log)
	svc := service.New(service.Options{
		NodeID:    a.nodeID,
		State:     a.state,
		Aliases:   a.alias,
		Router:    rt,
		Meta:      a.pool,
		Consensus: service.EtcdConsensus{Client: a.etcd},
		Defaults:  service.Defaults{OnDiskPayload: cfg.Storage.OnDiskPayload},
		Snapshots: service.SnapshotOptions{Records: &snapshots.Records{KV: a.etcd}, LocalDir: cfg.Storage.SnapshotsPath},
		Log:       a.log,
	})
	reg := metrics.New()
	handler := rest.New(svc, rest.Options{
		Metrics:        reg,
		StartedAt:      time.Now(),
		MaxBodyBytes:   int64(max(cfg.Service.MaxRequestSizeMB, 1)) << 20,
		CORS:           cfg.Service.EnableCORS,
		APIKey:         cfg.Service.APIKey,
		ReadOnlyAPIKey: cfg.Service.ReadOnlyAPIKey,
		Log:            a.log,
	})

	addr := net.JoinHostPort(cfg.Service.Host, strconv.Itoa(cfg.Service.HTTPPort))
	if a.ln, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	a.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		defer close(a.served)
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error().Err(err).Msg("REST server stopped")
		}
	}()

	grpcAddr := net.JoinHostPort(cfg.Service.Host, strconv.Itoa(cfg.Service.GRPCPort))
	if a.grpcLn, err = net.Listen("tcp", grpcAddr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", grpcAddr, err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	a.grpcAPI = grpcapi.New(svc, grpcapi.Options{
		Keys:            apikey.Keys{Full: cfg.Service.APIKey, ReadOnly: cfg.Service.ReadOnlyAPIKey},
		MaxMessageBytes: max(cfg.Service.MaxRequestSizeMB, 1) << 20,
		Metrics:         reg,
		Log:             a.log,
	})
	a.grpcSrv = &http.Server{
		Handler:           a.grpcAPI,
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		defer close(a.grpcServed)
		if err := a.grpcSrv.Serve(a.grpcLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error().Err(err).Msg("gRPC server stopped")
		}
	}()

	uri := cfg.Node.URI
	if uri == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "localhost"
		}
		uri = "http://" + net.JoinHostPort(host, strconv.Itoa(a.ln.Addr().(*net.TCPAddr).Port))
	}
	node := &shoalv1.Node{
		Id: a.nodeID, Uri: uri, Tier: shoalv1.NodeTier_NODE_TIER_ROUTER,
		Version: version.Version, StartedUnixMs: time.Now().UnixMilli(),
	}
	if a.reg, err = cluster.Register(ctx, a.etcd, node, cluster.LeaseTTL(cfg.Cluster.Consensus.TickPeriodMs), a.log); err != nil {
		return nil, err
	}
	a.log.Info().Str("http", a.HTTPAddr()).Str("grpc", a.GRPCAddr()).Str("uri", uri).Strs("meta", cfg.Meta.Endpoints).Msg("router started")
	return a, nil
}

// nodeID returns the router's node id. A router keeps no data, but it
// keeps its id in <storage_path>/router when it can, so that it shows as
// the same peer (GET /cluster) across restarts; when the directory cannot
// be written (a read-only container file system), it takes a fresh random
// id. Either is safe: the id only names the router's registration, which
// lives under a lease and disappears when the router is gone.
func nodeID(cfg config.Config, log zerolog.Logger) (uint64, error) {
	dir := filepath.Join(cfg.Storage.StoragePath, "router")
	id, err := cluster.LoadOrCreateNodeID(dir)
	if err == nil {
		return id, nil
	}
	log.Warn().Err(err).Str("dir", dir).Msg("cannot keep the router's node id; using a random one")
	var buf [8]byte
	for id == 0 {
		if _, err := rand.Read(buf[:]); err != nil {
			return 0, fmt.Errorf("generate node id: %w", err)
		}
		id = binary.LittleEndian.Uint64(buf[:]) >> 11 // below 2^53, as LoadOrCreateNodeID
	}
	return id, nil
}

// HTTPAddr is the REST server's bound host:port.
func (a *App) HTTPAddr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// GRPCAddr is the gRPC server's bound host:port.
func (a *App) GRPCAddr() string {
	if a.grpcLn == nil {
		return ""
	}
	return a.grpcLn.Addr().String()
}

// NodeID is the router's node id.
func (a *App) NodeID() uint64 { return a.nodeID }

// Close deregisters the router, stops the REST and gRPC servers (letting
// requests in flight finish for up to 10 s), the state and alias watches
// and the meta connection. It is idempotent.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		if a.reg != nil {
			a.reg.Close()
		}
		if a.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := a.srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop REST server: %w", err))
				_ = a.srv.Close()
			}
			cancel()
			<-a.served
		} else if a.ln != nil {
			_ = a.ln.Close()
		}
		if a.grpcSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := a.grpcSrv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop gRPC server: %w", err))
				_ = a.grpcSrv.Close()
			}
			cancel()
			<-a.grpcServed
		} else if a.grpcLn != nil {
			_ = a.grpcLn.Close()
		}
		if a.grpcAPI != nil {
			a.grpcAPI.Close()
		}
		if a.pool != nil {
			a.pool.Close()
		}
		if a.alias != nil {
			a.alias.Close()
		}
		if a.state != nil {
			a.state.Close()
		}
		if a.etcd != nil {
			if err := a.etcd.Close(); err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("close meta client: %w", err))
			}
		}
		a.closeErr = errors.Join(errs...)
		a.log.Info().Msg("router stopped")
	})
	return a.closeErr
}
