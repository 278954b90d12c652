package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yaml := "cluster:\n  p2p:\n    port: 7000\n  consensus:\n    tick_period_ms: 200\nstorage:\n  shard_transfer_method: null\n  collection:\n    replication_factor: 2\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := func() []string {
		return []string{"QDRANT__CLUSTER__P2P__PORT=7001", "SHOAL__STORAGE__PERFORMANCE__UPDATE_RATE_LIMIT=5", "QDRANT__STORAGE__NODE_TYPE=Listener", "QDRANT_PORT=1"}
	}
	cfg, err := Load("t", []string{"--config", path, "--p2p-port", "7002", "--meta", "http://a:1,http://b:2"}, environ)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.P2P.Port != 7002 {
		t.Errorf("p2p port = %d, want flag's 7002", cfg.Cluster.P2P.Port)
	}
	if cfg.Cluster.Consensus.TickPeriodMs != 200 || cfg.Storage.Collection.ReplicationFactor != 2 {
		t.Errorf("file values lost: %+v", cfg.Cluster.Consensus)
	}
	if cfg.Storage.Performance.UpdateRateLimit != 5 || cfg.Storage.NodeType != "Listener" {
		t.Errorf("env values lost: %+v %q", cfg.Storage.Performance, cfg.Storage.NodeType)
	}
	if got := strings.Join(cfg.Meta.Endpoints, " "); got != "http://a:1 http://b:2" {
		t.Errorf("endpoints = %q", got)
	}
	if cfg.Service.HTTPPort != 6333 || cfg.Storage.ShardTransferMethod != "" {
		t.Errorf("defaults lost: %+v", cfg.Service)
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	f := func(yaml string, env []string, wantKey string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load("t", []string{"--config", path}, func() []string { return env })
		if err == nil || !strings.Contains(err.Error(), wantKey) {
			t.Errorf("Load(%q, %v) error = %v, want it to name %q", yaml, env, err, wantKey)
		}
	}
	f("cluster:\n  p2p:\n    prot: 1\n", nil, "prot")
	f("cluster:\n  p2p:\n    port: abc\n", nil, "port")
	f("", []string{"SHOAL__CLUSTER__P2P__PORT=99999"}, "cluster.p2p.port")
	f("storage:\n  node_type: Leader\n", nil, "storage.node_type")
	f("storage:\n  shard_transfer_method: teleport\n", nil, "storage.shard_transfer_method")
	f("", []string{"SHOAL__STORAGE__COLLECTION__WRITE_CONSISTENCY_FACTOR=3"}, "write_consistency_factor")
	f("", []string{"SHOAL__NODE__URI=not a url"}, "node.uri")
	f("", []string{"QDRANT__SERVICE__NO_SUCH_KEY=1"}, "no_such_key")
}

func TestMissingExplicitConfigIsAnError(t *testing.T) {
	if _, err := Load("t", []string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}, func() []string { return nil }); err == nil {
		t.Fatal("want error for a missing --config file")
	}
}

func TestShippedConfigFileLoads(t *testing.T) {
	cfg, err := Load("t", []string{"--config", "../../config/config.yaml"}, func() []string { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Service.HTTPPort != 6333 || cfg.Cluster.P2P.Port != 6335 || cfg.Meta.ClientPort != 2379 {
		t.Fatalf("unexpected ports in shipped config: %+v %+v", cfg.Service, cfg.Meta)
	}
}
