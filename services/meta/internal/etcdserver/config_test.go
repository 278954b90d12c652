package etcdserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/config"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.uber.org/zap"
)

func TestNewSettings(t *testing.T) {
	type want struct {
		name, peer, peerListen, client, clientListen, dataDir string
	}
	f := func(mod func(*config.Config), w want) {
		t.Helper()
		cfg := config.Default()
		cfg.Storage.StoragePath = "/data"
		mod(&cfg)
		s, err := NewSettings(cfg)
		if err != nil {
			t.Fatalf("NewSettings: %v", err)
		}
		got := want{s.Name, s.PeerURL.String(), s.PeerListen.String(), s.ClientURL.String(), s.ClientListen.String(), s.DataDir}
		if got != w {
			t.Errorf("NewSettings =\n %+v\nwant\n %+v", got, w)
		}
		if s.ReadyTimeout < minJoinTimeout {
			t.Errorf("ready timeout %v below %v", s.ReadyTimeout, minJoinTimeout)
		}
	}
	f(func(c *config.Config) { c.Node.URI = "http://meta-1:6335" }, want{
		"meta-1-6335", "http://meta-1:6335", "http://0.0.0.0:6335", "http://meta-1:2379", "http://0.0.0.0:2379", "/data/meta"})
	f(func(c *config.Config) {
		c.Node.URI = "http://10.0.0.7:7000/"
		c.Node.Name = "m7"
		c.Meta.ClientPort = 2400
		c.Meta.DataDir = "/etcd"
	}, want{"m7", "http://10.0.0.7:7000", "http://0.0.0.0:7000", "http://10.0.0.7:2400", "http://0.0.0.0:2400", "/etcd"})
	// No port in the URI: cluster.p2p.port.
	f(func(c *config.Config) { c.Node.URI = "http://meta.svc.local"; c.Cluster.P2P.Port = 7100 }, want{
		"meta.svc.local-7100", "http://meta.svc.local:7100", "http://0.0.0.0:7100", "http://meta.svc.local:2379", "http://0.0.0.0:2379", "/data/meta"})
	f(func(c *config.Config) { c.Node.URI = "http://[::1]:6335" }, want{
		"--1-6335", "http://[::1]:6335", "http://0.0.0.0:6335", "http://[::1]:2379", "http://0.0.0.0:2379", "/data/meta"})

	cfg := config.Default()
	cfg.Node.URI = "https://meta-1:6335"
	if _, err := NewSettings(cfg); err == nil || !strings.Contains(err.Error(), "only http") {
		t.Errorf("https URI: err = %v, want a refusal", err)
	}
	cfg.Node.URI = ""
	s, err := NewSettings(cfg)
	if err != nil || s.PeerURL.Port() != "6335" || s.PeerURL.Hostname() == "" {
		t.Errorf("empty URI: %+v, %v; want this host on port 6335", s.PeerURL, err)
	}
	cfg.Cluster.Consensus.BootstrapTimeoutSec = 300
	if s, _ := NewSettings(cfg); s.ReadyTimeout != 300*time.Second {
		t.Errorf("ready timeout = %v, want 300s", s.ReadyTimeout)
	}
}

func TestEmbedConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Node.URI = "http://meta-1:6335"
	cfg.Cluster.Consensus.TickPeriodMs = 50
	cfg.Cluster.Consensus.CompactWalEntries = 500
	cfg.Meta.QuotaBackendBytes = 1 << 30
	cfg.Meta.AutoCompactionRetention = "30m"
	s, err := NewSettings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ec := embedConfig(cfg, s, zap.NewNop())
	if ec.TickMs != 50 || ec.ElectionMs != 500 || ec.SnapshotCount != 500 || ec.QuotaBackendBytes != 1<<30 ||
		ec.AutoCompactionMode != "periodic" || ec.AutoCompactionRetention != "30m" || ec.Name != "meta-1-6335" {
		t.Fatalf("embed config: tick %d election %d snapshot %d quota %d compaction %s/%s name %s",
			ec.TickMs, ec.ElectionMs, ec.SnapshotCount, ec.QuotaBackendBytes, ec.AutoCompactionMode, ec.AutoCompactionRetention, ec.Name)
	}
	if err := ec.Validate(); err != nil {
		t.Fatalf("etcd rejects the mapped config: %v", err)
	}
}

func TestInitialCluster(t *testing.T) {
	members := []*etcdserverpb.Member{
		{ID: 0x1, Name: "a", PeerURLs: []string{"http://a:6335"}},
		{ID: 0xab, Name: "", PeerURLs: []string{"http://b:6335"}}, // another joiner, not started
		{ID: 0xcd, Name: "", PeerURLs: []string{"http://c:6335"}}, // us
	}
	got := initialCluster(members, 0xcd, "c-6335")
	want := "a=http://a:6335,pending-ab=http://b:6335,c-6335=http://c:6335"
	if got != want {
		t.Fatalf("initialCluster = %q, want %q", got, want)
	}
}

func TestHasData(t *testing.T) {
	dir := t.TempDir()
	if ok, err := hasData(dir); ok || err != nil {
		t.Fatalf("empty dir: %v, %v", ok, err)
	}
	if err := os.Mkdir(filepath.Join(dir, "member"), 0o700); err != nil {
		t.Fatal(err)
	}
	if ok, err := hasData(dir); !ok || err != nil {
		t.Fatalf("dir with member/: %v, %v", ok, err)
	}
}

func TestEtcdLevel(t *testing.T) {
	f := func(in, want zerolog.Level) {
		t.Helper()
		if got := etcdLevel(in); got != want {
			t.Errorf("etcdLevel(%v) = %v, want %v", in, got, want)
		}
	}
	f(zerolog.TraceLevel, zerolog.TraceLevel)
	f(zerolog.DebugLevel, zerolog.DebugLevel)
	f(zerolog.InfoLevel, zerolog.WarnLevel)
	f(zerolog.WarnLevel, zerolog.WarnLevel)
	f(zerolog.ErrorLevel, zerolog.ErrorLevel)
}

func TestBootstrapNamingSelfIsIgnored(t *testing.T) {
	f := func(uri, bootstrap, want string, self bool) {
		t.Helper()
		cfg := config.Default()
		cfg.Node.URI, cfg.Node.Bootstrap = uri, bootstrap
		s, err := NewSettings(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if s.Bootstrap != want || s.SelfBootstrap != self {
			t.Errorf("uri %s bootstrap %s: got %q self=%v, want %q self=%v", uri, bootstrap, s.Bootstrap, s.SelfBootstrap, want, self)
		}
	}
	f("http://meta-0.meta:6335", "http://meta-0.meta:6335", "", true)
	f("http://Meta-0.meta:6335", "http://meta-0.META:6335/", "", true)
	f("http://meta-1.meta:6335", "http://meta-0.meta:6335", "http://meta-0.meta:6335", false)
	f("http://meta-0.meta:6335", "http://meta-0.meta:6336", "http://meta-0.meta:6336", false)
}
