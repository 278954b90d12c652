// Package natsserver runs the NATS server that meta embeds for the
// cluster's messaging (shard transfers between storage nodes).
package natsserver

import (
	"fmt"
	"net"
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
	// AdvertiseHost is the host put into the published URL.
	AdvertiseHost string
	// ReadyTimeout bounds the wait for the server to accept clients
	// (default 10 s).
	ReadyTimeout time.Duration
}

// Server is a running embedded NATS server.
type Server struct {
	ns        *server.Server
	url       string
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
	ns, err := server.NewServer(&server.Options{
		ServerName: o.Name,
		Host:       "0.0.0.0",
		Port:       o.Port,
		NoSigs:     true,
	})
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
		return nil, fmt.Errorf("embedded NATS on port %d not ready after %v (port in use?)", o.Port, o.ReadyTimeout)
	}
	return &Server{ns: ns, url: "nats://" + net.JoinHostPort(o.AdvertiseHost, strconv.Itoa(o.Port))}, nil
}

// URL is the advertised client URL, nats://<advertise host>:<port>.
func (s *Server) URL() string { return s.url }

// Close shuts the server down and waits for it; it is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}
