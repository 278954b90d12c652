// Package config defines the configuration every Shoal binary reads: one
// YAML file, then environment variables, then command-line flags, each
// layer overriding the one before. Keys follow the seed's names (cluster.*,
// storage.*, service.*) so that configuration written for it keeps working;
// Shoal's own keys live under meta.* and node.*.
package config

// Config is the whole configuration. Every tier reads the same structure and
// uses the sections it needs; a key a tier ignores is still validated.
type Config struct {
	LogLevel string        `koanf:"log_level"`
	Service  ServiceConfig `koanf:"service"`
	Cluster  ClusterConfig `koanf:"cluster"`
	Storage  StorageConfig `koanf:"storage"`
	Meta     MetaConfig    `koanf:"meta"`
	Node     NodeConfig    `koanf:"node"`
	TLS      TLSConfig     `koanf:"tls"`
}

// ServiceConfig is the router's public API.
type ServiceConfig struct {
	Host             string `koanf:"host"`
	HTTPPort         int    `koanf:"http_port"`
	GRPCPort         int    `koanf:"grpc_port"`
	MaxRequestSizeMB int    `koanf:"max_request_size_mb"`
	EnableCORS       bool   `koanf:"enable_cors"`
	EnableTLS        bool   `koanf:"enable_tls"`
	APIKey           string `koanf:"api_key"`
	ReadOnlyAPIKey   string `koanf:"read_only_api_key"`
}

// ClusterConfig holds the seed's cluster.* keys.
type ClusterConfig struct {
	Enabled   bool            `koanf:"enabled"`
	P2P       P2PConfig       `koanf:"p2p"`
	Consensus ConsensusConfig `koanf:"consensus"`
	// ReplicaLostAfter is how long a storage node may stay unregistered
	// before the meta controller takes its replicas for lost and
	// re-creates them on other nodes (a duration such as 5m).
	ReplicaLostAfter string          `koanf:"replica_lost_after"`
	Rebalance        RebalanceConfig `koanf:"rebalance"`
}

// RebalanceConfig holds cluster.rebalance.* (meta tier).
type RebalanceConfig struct {
	// Enabled lets the meta controller move replicas so that every Normal
	// storage node holds as many as the others, ±1.
	Enabled bool `koanf:"enabled"`
}

// P2PConfig is the internal (node to node) port.
type P2PConfig struct {
	Port               int  `koanf:"port"`
	EnableTLS          bool `koanf:"enable_tls"`
	ConnectionPoolSize int  `koanf:"connection_pool_size"`
}

// ConsensusConfig tunes etcd's Raft and the node leases.
type ConsensusConfig struct {
	// TickPeriodMs is the Raft heartbeat; the election timeout is 10 ticks
	// and node leases last LeaseTicks ticks (rounded up to whole seconds).
	TickPeriodMs        int `koanf:"tick_period_ms"`
	BootstrapTimeoutSec int `koanf:"bootstrap_timeout_sec"`
	MaxMessageQueueSize int `koanf:"max_message_queue_size"`
	// CompactWalEntries maps onto etcd's snapshot count.
	CompactWalEntries int `koanf:"compact_wal_entries"`
}

// StorageConfig holds the seed's storage.* keys.
type StorageConfig struct {
	StoragePath   string `koanf:"storage_path"`
	SnapshotsPath string `koanf:"snapshots_path"`
	OnDiskPayload bool   `koanf:"on_disk_payload"`
	// ShardTransferMethod is "" (auto), stream_records, snapshot or wal_delta.
	ShardTransferMethod string             `koanf:"shard_transfer_method"`
	Performance         PerformanceConfig  `koanf:"performance"`
	Collection          CollectionDefaults `koanf:"collection"`
	// NodeType is Normal or Listener.
	NodeType string `koanf:"node_type"`
}

// PerformanceConfig holds storage.performance.*.
type PerformanceConfig struct {
	MaxSearchThreads            int `koanf:"max_search_threads"`
	MaxOptimizationThreads      int `koanf:"max_optimization_threads"`
	OptimizerCPUBudget          int `koanf:"optimizer_cpu_budget"`
	UpdateRateLimit             int `koanf:"update_rate_limit"`
	IncomingShardTransfersLimit int `koanf:"incoming_shard_transfers_limit"`
	OutgoingShardTransfersLimit int `koanf:"outgoing_shard_transfers_limit"`
	// TransferRateLimitMB caps a node's outgoing shard transfer data in
	// MB/s (0: unlimited).
	TransferRateLimitMB int `koanf:"transfer_rate_limit_mb"`
}

// CollectionDefaults are used when a create request leaves a value out.
type CollectionDefaults struct {
	ReplicationFactor      int           `koanf:"replication_factor"`
	WriteConsistencyFactor int           `koanf:"write_consistency_factor"`
	Vectors                VectorsConfig `koanf:"vectors"`
}

// VectorsConfig holds storage.collection.vectors.*.
type VectorsConfig struct {
	OnDisk bool `koanf:"on_disk"`
}

// MetaConfig configures the meta tier and how the others reach it.
type MetaConfig struct {
	// Endpoints are etcd client URLs of the meta tier (storage, router).
	Endpoints []string `koanf:"endpoints"`
	// DataDir holds etcd's data (meta); default <storage_path>/meta.
	DataDir string `koanf:"data_dir"`
	// ClientPort is etcd's client port (meta).
	ClientPort int `koanf:"client_port"`
	// APIPort serves the meta Connect API (meta).
	APIPort int `koanf:"api_port"`
	// NATSPort is the embedded NATS server's port (meta); 0 disables it
	// only when NATSURL is set.
	NATSPort int `koanf:"nats_port"`
	// NATSURL points every tier at an external NATS instead of the
	// embedded one.
	NATSURL string `koanf:"nats_url"`
	// NATSClusterPort is the embedded NATS server's cluster (route) port,
	// which the meta nodes' NATS servers connect to each other on (meta);
	// 0 takes nats_port + 2000.
	NATSClusterPort int `koanf:"nats_cluster_port"`
	// QuotaBackendBytes caps etcd's database size.
	QuotaBackendBytes int64 `koanf:"quota_backend_bytes"`
	// AutoCompactionRetention is etcd's revision retention window, as a
	// duration ("1h").
	AutoCompactionRetention string `koanf:"auto_compaction_retention"`
}

// NodeConfig is this node's identity in the cluster.
type NodeConfig struct {
	// URI is the advertised internal address (--uri).
	URI string `koanf:"uri"`
	// Bootstrap is a meta node's peer URI to join (--bootstrap, meta only).
	Bootstrap string `koanf:"bootstrap"`
	// Name overrides the node's name (meta: etcd member name).
	Name string `koanf:"name"`
}

// TLSConfig holds certificate paths for TLS on the public and p2p ports.
type TLSConfig struct {
	Cert   string `koanf:"cert"`
	Key    string `koanf:"key"`
	CACert string `koanf:"ca_cert"`
}
