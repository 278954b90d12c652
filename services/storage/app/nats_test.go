package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/services/storage/app"
	"github.com/shoaldb/shoal/services/storage/internal/testetcd"
	"github.com/shoaldb/shoal/services/storage/internal/transfer"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestTransfersOverPublishedNATS starts two storage nodes before any NATS
// URL is published, then publishes one: both connect and a stream goes
// from one node to the other.
func TestTransfersOverPublishedNATS(t *testing.T) {
	endpoint := testetcd.Start(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	startNode := func() (*app.App, string) {
		dir := t.TempDir()
		// A partial transfer file left by an earlier run: removed at start.
		if err := os.MkdirAll(filepath.Join(dir, "transfers"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "transfers", "old.part"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.Meta.Endpoints = []string{endpoint}
		cfg.Storage.StoragePath = dir
		cfg.Node.URI = "http://127.0.0.1:0"
		a, err := app.Start(context.Background(), cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := a.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return a, dir
	}
	src, _ := startNode()
	dst, dstDir := startNode()
	if _, err := os.Stat(filepath.Join(dstDir, "transfers", "old.part")); !os.IsNotExist(err) {
		t.Fatalf("leftover transfer file survived startup: %v", err)
	}

	got := make(chan []byte, 1)
	_, rcv := dst.Transfers()
	rcv.Handle("test", func(_ context.Context, h transfer.Header, path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		got <- b
		return nil
	})

	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats server not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, cluster.NATSKey(77), ns.ClientURL()); err != nil {
		t.Fatal(err)
	}

	snd, _ := src.Transfers()
	data := bytes.Repeat([]byte("shard data "), 100_000)
	h := transfer.Header{Collection: "c", Shard: 1, Kind: "test", To: dst.NodeID(), Size: int64(len(data))}
	if _, err := snd.Send(ctx, h, bytes.NewReader(data), nil); err != nil {
		t.Fatalf("send: %v", err)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("received %d bytes, sent %d", len(b), len(data))
	}
}
