// Package testutil holds helpers shared by the meta tier's tests: free
// loopback ports, a configuration for a node on them, and a test logger.
package testutil

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/config"
)

// FreePorts returns n distinct TCP ports that were free a moment ago (found
// by listening on 127.0.0.1:0 and closing), none returned by an earlier
// call in this process. Another process may take one
// in between; tests accept that small risk, as etcd's own tests do.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var open []net.Listener
	defer func() {
		for _, ln := range open {
			ln.Close()
		}
	}()
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		open = append(open, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		handedOut.Lock()
		fresh := !handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if fresh {
			ports = append(ports, port)
		}
	}
	return ports
}

// handedOut is every port FreePorts returned in this process: the kernel
// may offer a port again once its listener is closed, before the node it
// was meant for has bound it.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Node is the configuration of a meta node on loopback: --uri
// http://127.0.0.1:<peer port>, free client, API and NATS ports, storage
// path dir (so etcd's data is in dir/meta). Bootstrap is left empty.
// The NATS cluster port is a free port too.
func Node(t testing.TB, dir string) config.Config {
	t.Helper()
	p := FreePorts(t, 5)
	cfg := config.Default()
	cfg.Node.URI = fmt.Sprintf("http://127.0.0.1:%d", p[0])
	cfg.Meta.ClientPort = p[1]
	cfg.Meta.APIPort = p[2]
	cfg.Meta.NATSPort = p[3]
	cfg.Meta.NATSClusterPort = p[4]
	cfg.Meta.Endpoints = []string{fmt.Sprintf("http://127.0.0.1:%d", p[1])}
	cfg.Storage.StoragePath = dir
	return cfg
}

// Logger writes to the test's log at warn level, or at the level named by
// the SHOAL_TEST_LOG environment variable (e.g. SHOAL_TEST_LOG=debug).
// Lines written after the test ended (by goroutines of libraries that
// outlive their Close) are dropped instead of failing the test binary.
func Logger(t testing.TB) zerolog.Logger {
	level := zerolog.WarnLevel
	if v := os.Getenv("SHOAL_TEST_LOG"); v != "" {
		if l, err := zerolog.ParseLevel(strings.ToLower(v)); err == nil {
			level = l
		}
	}
	w := &testWriter{t: t}
	t.Cleanup(w.stop) // registered first, so it runs after every other cleanup
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

type testWriter struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
