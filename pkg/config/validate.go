package config

import (
	"fmt"
	"net/url"
	"time"
)

// Validate checks every value that has a fixed set of choices or a range,
// and names the key in its error.
func (c *Config) Validate() error {
	f := func(ok bool, key string, v any, want string) error {
		if ok {
			return nil
		}
		return fmt.Errorf("%s: bad value %v: want %s", key, v, want)
	}
	port := func(p int) bool { return p > 0 && p < 65536 }
	optPort := func(p int) bool { return p >= 0 && p < 65536 }
	checks := []error{
		f(oneOf(c.LogLevel, "trace", "debug", "info", "warn", "error", "TRACE", "DEBUG", "INFO", "WARN", "ERROR"), "log_level", c.LogLevel, "trace, debug, info, warn or error"),
		f(port(c.Service.HTTPPort), "service.http_port", c.Service.HTTPPort, "a port 1-65535"),
		f(port(c.Service.GRPCPort), "service.grpc_port", c.Service.GRPCPort, "a port 1-65535"),
		f(c.Service.MaxRequestSizeMB > 0, "service.max_request_size_mb", c.Service.MaxRequestSizeMB, "a positive number"),
		f(port(c.Cluster.P2P.Port), "cluster.p2p.port", c.Cluster.P2P.Port, "a port 1-65535"),
		f(c.Cluster.Consensus.TickPeriodMs >= 10 && c.Cluster.Consensus.TickPeriodMs <= 10000, "cluster.consensus.tick_period_ms", c.Cluster.Consensus.TickPeriodMs, "10-10000"),
		f(c.Cluster.Consensus.CompactWalEntries > 0, "cluster.consensus.compact_wal_entries", c.Cluster.Consensus.CompactWalEntries, "a positive number"),
		f(c.Cluster.Consensus.MaxMessageQueueSize > 0, "cluster.consensus.max_message_queue_size", c.Cluster.Consensus.MaxMessageQueueSize, "a positive number"),
		f(oneOf(c.Storage.ShardTransferMethod, "", "stream_records", "snapshot", "wal_delta"), "storage.shard_transfer_method", c.Storage.ShardTransferMethod, "null, stream_records, snapshot or wal_delta"),
		f(c.Storage.Performance.UpdateRateLimit >= 0, "storage.performance.update_rate_limit", c.Storage.Performance.UpdateRateLimit, "0 (unlimited) or a positive number"),
		f(c.Storage.Performance.IncomingShardTransfersLimit >= 0, "storage.performance.incoming_shard_transfers_limit", c.Storage.Performance.IncomingShardTransfersLimit, "0 (unlimited) or a positive number"),
		f(c.Storage.Performance.OutgoingShardTransfersLimit >= 0, "storage.performance.outgoing_shard_transfers_limit", c.Storage.Performance.OutgoingShardTransfersLimit, "0 (unlimited) or a positive number"),
		f(c.Storage.Performance.TransferRateLimitMB >= 0, "storage.performance.transfer_rate_limit_mb", c.Storage.Performance.TransferRateLimitMB, "0 (unlimited) or a positive number of MB/s"),
		f(c.Storage.Collection.ReplicationFactor >= 1, "storage.collection.replication_factor", c.Storage.Collection.ReplicationFactor, "at least 1"),
		f(c.Storage.Collection.WriteConsistencyFactor >= 1, "storage.collection.write_consistency_factor", c.Storage.Collection.WriteConsistencyFactor, "at least 1"),
		f(oneOf(c.Storage.NodeType, "Normal", "Listener"), "storage.node_type", c.Storage.NodeType, "Normal or Listener"),
		f(c.Storage.StoragePath != "", "storage.storage_path", c.Storage.StoragePath, "a directory"),
		f(port(c.Meta.ClientPort), "meta.client_port", c.Meta.ClientPort, "a port 1-65535"),
		f(port(c.Meta.APIPort), "meta.api_port", c.Meta.APIPort, "a port 1-65535"),
		f(optPort(c.Meta.NATSPort), "meta.nats_port", c.Meta.NATSPort, "a port 0-65535"),
		f(optPort(c.Meta.NATSClusterPort), "meta.nats_cluster_port", c.Meta.NATSClusterPort, "a port 0-65535 (0: nats_port + 2000)"),
		f(c.Meta.QuotaBackendBytes > 0, "meta.quota_backend_bytes", c.Meta.QuotaBackendBytes, "a positive number of bytes"),
		f(len(c.Meta.Endpoints) > 0, "meta.endpoints", c.Meta.Endpoints, "at least one URL"),
	}
	if d, err := time.ParseDuration(c.Cluster.ReplicaLostAfter); err != nil || d <= 0 {
		checks = append(checks, fmt.Errorf("cluster.replica_lost_after: bad value %q: want a positive duration such as 5m", c.Cluster.ReplicaLostAfter))
	}
	if _, err := time.ParseDuration(c.Meta.AutoCompactionRetention); err != nil {
		checks = append(checks, fmt.Errorf("meta.auto_compaction_retention: bad value %q: want a duration such as 1h", c.Meta.AutoCompactionRetention))
	}
	for _, e := range c.Meta.Endpoints {
		checks = append(checks, checkURL("meta.endpoints", e))
	}
	if c.Node.URI != "" {
		checks = append(checks, checkURL("node.uri", c.Node.URI))
	}
	if c.Node.Bootstrap != "" {
		checks = append(checks, checkURL("node.bootstrap", c.Node.Bootstrap))
	}
	if c.Meta.NATSURL != "" {
		if _, err := url.Parse(c.Meta.NATSURL); err != nil {
			checks = append(checks, fmt.Errorf("meta.nats_url: bad value %q: %v", c.Meta.NATSURL, err))
		}
	}
	if c.Storage.Collection.WriteConsistencyFactor > c.Storage.Collection.ReplicationFactor {
		checks = append(checks, fmt.Errorf("storage.collection.write_consistency_factor: %d is more than storage.collection.replication_factor %d", c.Storage.Collection.WriteConsistencyFactor, c.Storage.Collection.ReplicationFactor))
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

func checkURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: bad value %q: want a URL such as http://host:port", key, s)
	}
	return nil
}

func oneOf(v string, choices ...string) bool {
	for _, c := range choices {
		if v == c {
			return true
		}
	}
	return false
}
