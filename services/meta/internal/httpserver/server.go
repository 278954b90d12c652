// Package httpserver serves an http.Handler over HTTP/1.1 and unencrypted
// HTTP/2 (h2c), the transport of Shoal's internal Connect APIs.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// shutdownTimeout bounds a graceful shutdown; requests still running after
// it are cut.
const shutdownTimeout = 5 * time.Second

// Server is a running HTTP server.
type Server struct {
	srv       *http.Server
	addr      net.Addr
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Listen binds addr (so that a taken port fails here, not later) and
// serves h on it until Close.
func Listen(addr string, h http.Handler, log zerolog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	s := &Server{srv: srv, addr: ln.Addr(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("addr", addr).Msg("http server stopped")
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.addr }

// Close shuts the server down gracefully (at most shutdownTimeout) and
// waits for it to stop. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.closeErr = fmt.Errorf("shut down http server: %w", err)
			s.srv.Close()
		}
		<-s.done
	})
	return s.closeErr
}
