// Package app assembles a meta node: the embedded etcd member, the
// embedded NATS server (unless an external one is configured), the
// MetaService Connect API, the node's registration in the cluster and the
// leader-elected controller. The shoal-meta binary and the in-process test
// harness both start it.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/logging"
	"github.com/shoaldb/shoal/pkg/version"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/meta/internal/catalog"
	"github.com/shoaldb/shoal/services/meta/internal/controller"
	"github.com/shoaldb/shoal/services/meta/internal/etcdserver"
	"github.com/shoaldb/shoal/services/meta/internal/httpserver"
	"github.com/shoaldb/shoal/services/meta/internal/natsserver"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// App is a running meta node.
type App struct {
	log     zerolog.Logger
	etcd    *etcdserver.Server
	cli     *clientv3.Client
	nats    *natsserver.Server // nil with an external NATS
	natsURL string
	routes  *routeWatcher // nil with an external NATS
	api     *httpserver.Server
	apiURL  string
	reg     *cluster.Registration
	state   *cluster.State
	pos     *controller.RPCPositions
	ctrl    *controller.Controller

	closeOnce sync.Once
	closeErr  error
}

// Start starts a meta node and returns once every part serves and the node
// is registered. On error everything already started is stopped.
//
// The node's id is its etcd member id. It registers as a META node with
// its peer URL as uri and its Connect API URL as api_uri, under a lease of
// cluster.LeaseTTL(tick period), and publishes the NATS URL the cluster
// should use at cluster.NATSKey(id) under the same lease, and its embedded
// NATS server's route URL at cluster.NATSRouteKey(id): the servers of all
// meta nodes form one NATS cluster.
func Start(ctx context.Context, cfg config.Config, log zerolog.Logger) (a *App, err error) {
	a = &App{log: log}
	defer func() {
		if err != nil {
			if cerr := a.Close(); cerr != nil {
				log.Warn().Err(cerr).Msg("stop meta node after failed start")
			}
			a = nil
		}
	}()

	if a.etcd, err = etcdserver.Start(ctx, cfg, log); err != nil {
		return a, fmt.Errorf("start etcd: %w", err)
	}
	peer, err := url.Parse(a.etcd.PeerURL())
	if err != nil {
		return a, fmt.Errorf("parse peer URL: %w", err)
	}
	host := peer.Hostname()
	a.log = log.With().Str("member", a.etcd.Name()).Logger()

	a.cli, err = clientv3.New(clientv3.Config{
		Endpoints:   []string{a.etcd.LocalClientURL()},
		DialTimeout: 5 * time.Second,
		Logger:      logging.Zap(log.With().Str("component", "etcd-client").Logger().Level(max(log.GetLevel(), zerolog.WarnLevel))),
	})
	if err != nil {
		return a, fmt.Errorf("connect to own etcd member: %w", err)
	}

	switch {
	case cfg.Meta.NATSURL != "":
		a.natsURL = cfg.Meta.NATSURL
	case cfg.Meta.NATSPort == 0:
		return a, errors.New("meta.nats_port is 0 but meta.nats_url is not set: the cluster needs a NATS server")
	default:
		clusterPort := cfg.Meta.NATSClusterPort
		if clusterPort == 0 {
			clusterPort = cfg.Meta.NATSPort + 2000
		}
		if clusterPort > 65535 {
			return a, fmt.Errorf("meta.nats_cluster_port: nats_port %d + 2000 is no port; set it", cfg.Meta.NATSPort)
		}
		// Routes to the meta nodes already up; later ones are added by the
		// route watcher (and the NATS cluster's gossip).
		routes, _, err := publishedRoutes(ctx, a.cli, a.etcd.MemberID())
		if err != nil {
			return a, fmt.Errorf("list NATS routes: %w", err)
		}
		a.nats, err = natsserver.Start(natsserver.Options{
			Name: a.etcd.Name(), Port: cfg.Meta.NATSPort, AdvertiseHost: host,
			ClusterPort: clusterPort, Routes: routes,
		}, log)
		if err != nil {
			return a, err
		}
		a.natsURL = a.nats.URL()
	}

	mux := http.NewServeMux()
	mux.Handle(shoalv1connect.NewMetaServiceHandler(catalog.New(a.cli, catalog.Defaults{
		ReplicationFactor:      uint32(cfg.Storage.Collection.ReplicationFactor),
		WriteConsistencyFactor: uint32(cfg.Storage.Collection.WriteConsistencyFactor),
		TransferLimits:         transferLimits(cfg),
	}, log)))
	mux.HandleFunc("GET /healthz", a.healthz)
	if a.api, err = httpserver.Listen(net.JoinHostPort("0.0.0.0", strconv.Itoa(cfg.Meta.APIPort)), mux, log); err != nil {
		return a, fmt.Errorf("meta API: %w", err)
	}
	a.apiURL = "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Meta.APIPort))

	node := &shoalv1.Node{
		Id:            a.etcd.MemberID(),
		Uri:           a.etcd.PeerURL(),
		Tier:          shoalv1.NodeTier_NODE_TIER_META,
		NodeType:      shoalv1.NodeType_NODE_TYPE_NORMAL,
		Version:       version.Version,
		StartedUnixMs: time.Now().UnixMilli(),
		ApiUri:        a.apiURL,
	}
	ttl := cluster.LeaseTTL(cfg.Cluster.Consensus.TickPeriodMs)
	regLog := log.With().Str("component", "registration").Logger()
	if a.reg, err = cluster.Register(ctx, a.cli, node, ttl, regLog); err != nil {
		return a, err
	}
	if err := a.reg.Put(ctx, cluster.NATSKey(node.Id), []byte(a.natsURL)); err != nil {
		return a, fmt.Errorf("publish NATS URL: %w", err)
	}
	if a.nats != nil {
		if err := a.reg.Put(ctx, cluster.NATSRouteKey(node.Id), []byte(a.nats.RouteURL())); err != nil {
			return a, fmt.Errorf("publish NATS route URL: %w", err)
		}
		a.routes = watchRoutes(a.cli, a.nats, node.Id, a.log.With().Str("component", "nats-routes").Logger())
	}

	// The controller judges storage nodes by the same lease TTL they
	// register with, and waits one TTL after winning the election before
	// it takes an absent node for a lapsed lease.
	if a.state, err = cluster.WatchState(ctx, a.cli, a.log.With().Str("component", "cluster-state").Logger()); err != nil {
		return a, fmt.Errorf("controller: %w", err)
	}
	a.pos = controller.NewRPCPositions(controller.DefaultPositionTimeout)
	a.ctrl = controller.Start(controller.Config{
		Client:    a.cli,
		State:     a.state,
		Positions: a.pos,
		ID:        node.Id,
		LeaseTTL:  ttl,
		Grace:     time.Duration(ttl) * time.Second,
		Log:       a.log,
		Limits:    transferLimits(cfg),
		// Validated by config.Validate.
		ReplicaLostAfter: mustDuration(cfg.Cluster.ReplicaLostAfter),
		Rebalance:        cfg.Cluster.Rebalance.Enabled,
	})
	a.log.Info().
		Str("member_id", strconv.FormatUint(node.Id, 16)).
		Str("peer_url", a.etcd.PeerURL()).
		Str("client_url", a.etcd.ClientURL()).
		Str("api_url", a.apiURL).
		Str("nats_url", a.natsURL).
		Str("nats_route_url", a.natsRouteURL()).
		Bool("nats_embedded", a.nats != nil).
		Str("data_dir", a.etcd.DataDir()).
		Msg("meta node started")
	return a, nil
}

// healthz answers 200 while the etcd member knows a Raft leader (it can
// serve linearizable requests), 503 otherwise.
func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	leader := a.etcd.Leader()
	status := http.StatusOK
	body := map[string]any{"status": "ok", "member": strconv.FormatUint(a.etcd.MemberID(), 16), "leader": strconv.FormatUint(leader, 16)}
	if leader == 0 {
		status = http.StatusServiceUnavailable
		body["status"] = "no raft leader"
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// MemberID is the node's id: its etcd member id.
func (a *App) MemberID() uint64 { return a.etcd.MemberID() }

// PeerURL is the advertised etcd peer URL (--uri).
func (a *App) PeerURL() string { return a.etcd.PeerURL() }

// ClientURL is the advertised etcd client URL, what other tiers put in
// meta.endpoints.
func (a *App) ClientURL() string { return a.etcd.ClientURL() }

// APIURL is the MetaService Connect API's URL.
func (a *App) APIURL() string { return a.apiURL }

// NATSURL is the published NATS URL: the embedded server's, or
// meta.nats_url.
func (a *App) NATSURL() string { return a.natsURL }

// natsRouteURL is the embedded NATS server's route URL, "" with an
// external NATS.
func (a *App) natsRouteURL() string {
	if a.nats == nil {
		return ""
	}
	return a.nats.RouteURL()
}

// Client is a client to this node's own etcd member; it stays valid until
// Close and must not be closed by the caller.
func (a *App) Client() *clientv3.Client { return a.cli }

// Leader is the member id of the Raft leader this member knows, 0 if none.
func (a *App) Leader() uint64 { return a.etcd.Leader() }

// ControllerLeader reports whether this node's controller is the leader.
func (a *App) ControllerLeader() bool { return a.ctrl != nil && a.ctrl.IsLeader() }

// Close stops the node: controller (handing leadership over), registration
// (revoking its lease), API server, NATS, etcd client, etcd member. It is
// idempotent and returns the first error met.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		if a.ctrl != nil {
			a.ctrl.Close()
		}
		if a.state != nil {
			a.state.Close()
		}
		if a.pos != nil {
			a.pos.Close()
		}
		if a.reg != nil {
			a.reg.Close()
		}
		if a.api != nil {
			errs = append(errs, a.api.Close())
		}
		if a.routes != nil {
			a.routes.close()
		}
		if a.nats != nil {
			a.nats.Close()
		}
		if a.cli != nil {
			if err := a.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("close etcd client: %w", err))
			}
		}
		if a.etcd != nil {
			a.etcd.Close()
		}
		a.closeErr = errors.Join(errs...)
		a.log.Info().Msg("meta node stopped")
	})
	return a.closeErr
}

// transferLimits are the per-node shard transfer limits the controller
// and the catalog enforce (storage.performance.*_shard_transfers_limit).
func transferLimits(cfg config.Config) cluster.TransferLimits {
	return cluster.TransferLimits{
		Incoming: cfg.Storage.Performance.IncomingShardTransfersLimit,
		Outgoing: cfg.Storage.Performance.OutgoingShardTransfersLimit,
	}
}

// mustDuration parses a validated duration; an empty or bad one is 0 (the
// default applies).
func mustDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}
