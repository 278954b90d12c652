package transfer

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// startNATS starts an in-process NATS server on 127.0.0.1:port (-1: a free
// port) that stops when the test ends.
func startNATS(tb testing.TB, port int) *server.Server {
	tb.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		tb.Fatalf("nats server on port %d not ready", port)
	}
	tb.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

func natsPort(ns *server.Server) int { return ns.Addr().(*net.TCPAddr).Port }

// connect connects to ns, reconnecting forever.
func connect(tb testing.TB, ns *server.Server, extra ...nats.Option) *nats.Conn {
	tb.Helper()
	opts := append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, extra...)
	nc, err := nats.Connect(ns.ClientURL(), opts...)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

func testLog(tb testing.TB) zerolog.Logger {
	if os.Getenv("SHOAL_TEST_LOG") != "" {
		return zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.DebugLevel)
	}
	return zerolog.Nop()
}

// received records what a handler got.
type received struct {
	mu   sync.Mutex
	sums map[string][32]byte // by transfer id
	hdrs map[string]Header
}

// recordingHandler hashes the received file.
func (rc *received) handler(_ context.Context, h Header, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	hs := sha256.New()
	if _, err := io.Copy(hs, f); err != nil {
		return err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var sum [32]byte
	copy(sum[:], hs.Sum(nil))
	rc.sums[h.ID] = sum
	rc.hdrs[h.ID] = h
	return nil
}

func (rc *received) sum(id string) ([32]byte, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s, ok := rc.sums[id]
	return s, ok
}

func newReceived() *received {
	return &received{sums: map[string][32]byte{}, hdrs: map[string]Header{}}
}

// randomData returns n reproducible pseudo-random bytes.
func randomData(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// filesIn lists the files left in dir.
func filesIn(tb testing.TB, dir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// waitFor polls cond for up to 60 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}
