// Package app runs a storage node: it registers the node with the meta
// tier, keeps the node's shard replicas in line with the shard maps, and
// serves the internal StorageService on the node's p2p port. It connects to
// the NATS servers the meta tier publishes for shard transfers with other
// storage nodes (see Transfers). Both the
// shoal-storage binary and in-process cluster tests use it.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/version"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/node"
	"github.com/shoaldb/shoal/services/storage/internal/replication"
	"github.com/shoaldb/shoal/services/storage/internal/server"
	"github.com/shoaldb/shoal/services/storage/internal/snapshots"
	"github.com/shoaldb/shoal/services/storage/internal/transfer"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// shutdownTimeout bounds how long Close waits for in-flight requests.
const shutdownTimeout = 10 * time.Second

// App is a running storage node.
type App struct {
	log    zerolog.Logger
	nodeID uint64
	url    string

	cli   *clientv3.Client
	reg   *cluster.Registration
	state *cluster.State
	mgr   *node.Manager
	repl  *replication.Coordinator
	srv   *http.Server

	natsURLs *natsURLs
	nc       *nats.Conn
	sender   *transfer.Sender
	receiver *transfer.Receiver

	serveErr  chan error
	closeOnce sync.Once
	closeErr  error
}

// Start brings a storage node up and returns once it serves. The node's
// id is kept in cfg.Storage.StoragePath, so a restart with the same path
// is the same node and reopens its replicas. The advertised address is
// cfg.Node.URI, or http://<hostname>:<cluster.p2p.port>; the node listens
// on all interfaces at that address's port (port 0 picks a free port and
// the advertised address is updated to it).
func Start(ctx context.Context, cfg config.Config, log zerolog.Logger) (*App, error) {
	a := &App{log: log, serveErr: make(chan error, 1)}
	var ln net.Listener
	ok := false
	defer func() {
		if !ok {
			if ln != nil {
				ln.Close()
			}
			a.shutdown()
		}
	}()

	id, err := cluster.LoadOrCreateNodeID(cfg.Storage.StoragePath)
	if err != nil {
		return nil, err
	}
	a.nodeID = id
	a.log = log.With().Uint64("node_id", id).Logger()

	adv, err := advertised(cfg)
	if err != nil {
		return nil, err
	}
	ln, err = net.Listen("tcp", net.JoinHostPort("0.0.0.0", adv.Port()))
	if err != nil {
		return nil, fmt.Errorf("listen on port %s: %w", adv.Port(), err)
	}
	if adv.Port() == "0" {
		adv.Host = net.JoinHostPort(adv.Hostname(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	a.url = adv.String()
	// Until the replicas are open, connections wait in the listen backlog.

	if a.cli, err = cluster.NewClient(cfg.Meta.Endpoints, a.log); err != nil {
		return nil, err
	}
	nodeType := shoalv1.NodeType_NODE_TYPE_NORMAL
	if cfg.Storage.NodeType == "Listener" {
		nodeType = shoalv1.NodeType_NODE_TYPE_LISTENER
	}
	self := &shoalv1.Node{
		Id: id, Uri: a.url, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE, NodeType: nodeType,
		Version: version.Version, StartedUnixMs: time.Now().UnixMilli(),
	}
	if a.reg, err = cluster.Register(ctx, a.cli, self, cluster.LeaseTTL(cfg.Cluster.Consensus.TickPeriodMs), a.log); err != nil {
		return nil, err
	}
	if a.state, err = cluster.WatchState(ctx, a.cli, a.log); err != nil {
		return nil, err
	}
	a.mgr = node.New(node.Config{
		NodeID: id, StoragePath: cfg.Storage.StoragePath,
		State: a.state, Status: a.reg, Log: a.log,
	})
	if err := a.mgr.Start(ctx); err != nil {
		return nil, fmt.Errorf("start replicas: %w", err)
	}

	if err := a.startTransfers(cfg); err != nil {
		return nil, err
	}

	cli := a.cli
	a.repl = replication.New(replication.Config{
		NodeID: id, Maps: a.state, Replicas: a.mgr, Log: a.log,
		Update: func(ctx context.Context, collection, uid string, edit func(*shoalv1.ShardMap) (bool, error)) (*shoalv1.ShardMap, error) {
			return cluster.UpdateShardMap(ctx, cli, collection, uid, edit)
		},
		UpdateRateLimit: cfg.Storage.Performance.UpdateRateLimit,
		LeaseAlive:      a.reg.Alive,
		Streamer:        a.sender,
		Progress:        a.reg,
		Transfers:       a.state.Transfers,
		DefaultMethod:   cfg.Storage.ShardTransferMethod,
	})
	a.receiver.Handle(replication.KindSnapshot, a.repl.ReceiveSnapshot)
	a.receiver.Handle(replication.KindRecords, a.repl.ReceiveRecords)
	a.repl.Start()

	snaps := snapshots.New(filepath.Join(cfg.Storage.StoragePath, "snapshots"))
	if err := snaps.RemoveIncoming(); err != nil {
		a.log.Warn().Err(err).Msg("could not remove leftover received snapshot files")
	}
	a.srv = &http.Server{Handler: server.New(a.mgr, a.repl, a.log).WithSnapshots(snaps, a.repl, id).Handler(), ReadHeaderTimeout: 10 * time.Second}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	a.srv.Protocols = protocols
	go func() { a.serveErr <- a.srv.Serve(ln) }()

	a.log.Info().Str("uri", a.url).Str("listen", ln.Addr().String()).Str("storage_path", cfg.Storage.StoragePath).
		Strs("meta", cfg.Meta.Endpoints).Str("node_type", cfg.Storage.NodeType).Msg("storage node started")
	ok = true
	return a, nil
}

// advertised returns the node's advertised URL.
func advertised(cfg config.Config) (*url.URL, error) {
	raw := cfg.Node.URI
	if raw == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("hostname for the advertised address: %w", err)
		}
		raw = "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Cluster.P2P.Port))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("node uri %q: want http://host:port", raw)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(cfg.Cluster.P2P.Port))
	}
	return u, nil
}

// unlimitedTransfers stands for a transfer limit of 0 (unlimited).
const unlimitedTransfers = 1 << 16

// startTransfers connects to the meta tier's NATS (in the background: the
// node starts while NATS is unreachable) and creates the node's shard
// transfer Sender and Receiver; the Receiver's files live in
// <storage_path>/transfers.
func (a *App) startTransfers(cfg config.Config) error {
	perf := cfg.Storage.Performance
	limit := func(n int) int {
		if n <= 0 {
			return unlimitedTransfers
		}
		return n
	}
	log := a.log.With().Str("component", "nats").Logger()
	a.natsURLs = watchNATSURLs(a.cli, log)
	nc, err := connectNATS(a.natsURLs, fmt.Sprintf("shoal-storage-%d", a.nodeID), log)
	if err != nil {
		return err
	}
	a.nc = nc
	a.sender = transfer.NewSender(nc, a.nodeID, transfer.SenderOptions{
		MaxConcurrent: limit(perf.OutgoingShardTransfersLimit),
		RateLimit:     int64(perf.TransferRateLimitMB) * 1_000_000,
	}, a.log)
	a.receiver, err = transfer.NewReceiver(nc, a.nodeID, filepath.Join(cfg.Storage.StoragePath, "transfers"), transfer.ReceiverOptions{
		MaxConcurrent: limit(perf.IncomingShardTransfersLimit),
	}, a.log)
	if err != nil {
		return fmt.Errorf("shard transfer receiver: %w", err)
	}
	return nil
}

// Transfers returns the node's shard transfer endpoints: the Sender for
// streams to other storage nodes and the Receiver on which handlers for
// incoming kinds are registered. Both stay valid until Close.
func (a *App) Transfers() (*transfer.Sender, *transfer.Receiver) { return a.sender, a.receiver }

// Copies returns the newest recoveries of followers this node ran as a
// primary (method, bytes and records sent), oldest first.
func (a *App) Copies() []replication.CopyReport { return a.repl.Copies() }

// NodeID is this node's cluster id.
func (a *App) NodeID() uint64 { return a.nodeID }

// URL is the node's advertised internal address.
func (a *App) URL() string { return a.url }

// Close stops serving (letting in-flight requests finish), closes every
// replica (all acknowledged writes are durable), and revokes the node's
// lease, which removes its registration and status keys. Idempotent.
func (a *App) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.shutdown() })
	return a.closeErr
}

func (a *App) shutdown() error {
	var errs []error
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop serving: %w", err))
		}
		cancel()
		// Serve returns as soon as Shutdown starts.
		if err := <-a.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
	}
	if a.receiver != nil {
		if err := a.receiver.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close transfer receiver: %w", err))
		}
	}
	if a.nc != nil {
		a.nc.Close() // running Sends fail
	}
	if a.natsURLs != nil {
		a.natsURLs.close()
	}
	if a.repl != nil {
		a.repl.Close()
	}
	if a.mgr != nil {
		if err := a.mgr.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close replicas: %w", err))
		}
	}
	if a.state != nil {
		a.state.Close()
	}
	if a.reg != nil {
		a.reg.Close()
	}
	if a.cli != nil {
		if err := a.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("close meta client: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		a.log.Warn().Err(err).Msg("storage node stopped with errors")
		return err
	}
	a.log.Info().Msg("storage node stopped")
	return nil
}
