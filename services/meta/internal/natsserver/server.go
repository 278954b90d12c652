// Package natsserver runs the NATS server that meta embeds for the
// cluster's messaging (shard transfers between storage nodes). The meta
// nodes' servers form one NATS cluster: each listens on a cluster (route)
// port and connects to the others' route URLs, so a client of any meta
// node's server reaches subscribers on every other.
package natsserver

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// Options configure the embedded server.
type Options struct {
	// Name is the server name shown to clients and in monitoring.
	Name string
	// Port is the client port; it listens on all interfaces.
	Port int
	// AdvertiseHost is the host put into the published URLs.
	AdvertiseHost string
	// ClusterPort is the cluster (route) port; 0 runs a standalone server.
	ClusterPort int
	// Routes are the other servers' route URLs (nats-route://host:port),
	// retried until they answer; SetRoutes changes them later.
	Routes []string
	// ReadyTimeout bounds the wait for the server to accept clients
	// (default 10 s).
	ReadyTimeout time.Duration
}

// clusterName is the NATS cluster every meta node's server joins.
const clusterName = "shoal"

// Server is a running embedded NATS server.
type Server struct {
	ns        *server.Server
	opts      server.Options // as started; SetRoutes reloads a copy
	url       string
	routeURL  string
	log       zerolog.Logger
	mu        sync.Mutex // serialises SetRoutes
	routes    []string
	closeOnce sync.Once
}

// Start starts the server and returns once it accepts client connections.
func Start(o Options, log zerolog.Logger) (*Server, error) {
	if o.Port <= 0 || o.Port > 65535 {
		return nil, fmt.Errorf("embedded NATS: bad port %d", o.Port)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 10 * time.Second
	}
	opts := server.Options{
		ServerName:      o.Name,
		Host:            "0.0.0.0",
		Port:            o.Port,
		ClientAdvertise: net.JoinHostPort(o.AdvertiseHost, strconv.Itoa(o.Port)),
		NoSigs:          true,
	}
	routeURL := ""
	if o.ClusterPort != 0 {
		if o.ClusterPort < 0 || o.ClusterPort > 65535 || o.ClusterPort == o.Port {
			return nil, fmt.Errorf("embedded NATS: bad cluster port %d", o.ClusterPort)
		}
		routes, err := parseRoutes(o.Routes)
		if err != nil {
			return nil, err
		}
		opts.Cluster = server.ClusterOpts{
			Name: clusterName,
			Host: "0.0.0.0",
			Port: o.ClusterPort,
			// Other servers and gossip reach this one at the advertised
			// host; clients learn no server URLs from the cluster (they
			// take the URLs the meta nodes publish in etcd).
			Advertise:   net.JoinHostPort(o.AdvertiseHost, strconv.Itoa(o.ClusterPort)),
			NoAdvertise: true,
		}
		opts.Routes = routes
		routeURL = "nats-route://" + net.JoinHostPort(o.AdvertiseHost, strconv.Itoa(o.ClusterPort))
	}
	started := opts
	ns, err := server.NewServer(&opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	log = log.With().Str("component", "nats").Logger()
	lvl := log.GetLevel()
	ns.SetLogger(logAdapter{log: log}, lvl <= zerolog.DebugLevel, lvl <= zerolog.TraceLevel)
	ns.Start()
	if !ns.ReadyForConnections(o.ReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("embedded NATS on port %d (cluster port %d) not ready after %v (port in use?)", o.Port, o.ClusterPort, o.ReadyTimeout)
	}
	return &Server{
		ns: ns, opts: started, log: log, routes: slices.Sorted(slices.Values(o.Routes)),
		url:      "nats://" + net.JoinHostPort(o.AdvertiseHost, strconv.Itoa(o.Port)),
		routeURL: routeURL,
	}, nil
}

// URL is the advertised client URL, nats://<advertise host>:<port>.
func (s *Server) URL() string { return s.url }

// RouteURL is the advertised cluster URL, nats-route://<advertise
// host>:<cluster port>, or "" for a standalone server.
func (s *Server) RouteURL() string { return s.routeURL }

// SetRoutes replaces the route URLs the server connects to (the other
// meta nodes' RouteURLs); routes no longer listed are closed. It is a
// no-op for a standalone server or an unchanged list.
func (s *Server) SetRoutes(routes []string) error {
	if s.routeURL == "" {
		return nil
	}
	routes = slices.Clone(routes)
	slices.Sort(routes)
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Equal(routes, s.routes) {
		return nil
	}
	parsed, err := parseRoutes(routes)
	if err != nil {
		return err
	}
	next := s.opts
	next.Routes = parsed
	if err := s.ns.ReloadOptions(&next); err != nil {
		return fmt.Errorf("embedded NATS: set routes %v: %w", routes, err)
	}
	s.opts.Routes = parsed
	s.routes = routes
	s.log.Info().Strs("routes", routes).Msg("NATS cluster routes updated")
	return nil
}

// NumRoutes is the number of route connections to other servers.
func (s *Server) NumRoutes() int { return s.ns.NumRoutes() }

func parseRoutes(routes []string) ([]*url.URL, error) {
	var out []*url.URL
	for _, r := range routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("embedded NATS: bad route URL %q", r)
		}
		out = append(out, u)
	}
	return out, nil
}

// Close shuts the server down and waits for it; it is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}
