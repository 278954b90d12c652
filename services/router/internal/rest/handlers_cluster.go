package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/shoaldb/shoal/pkg/version"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// clusterTelemetry serves GET /cluster/telemetry (cluster_telemetry):
// DistributedTelemetryData built from the cluster state this router
// watches. Every registered node is a peer (its lease is live, so it is
// responsive); the Raft term and commit are the meta tier's.
func (s *Server) clusterTelemetry(r *http.Request, _ []byte) (any, error) {
	if err := checkObservabilityParams(r); err != nil {
		return nil, err
	}
	timeout := 60 * time.Second
	if v := r.URL.Query().Get("timeout"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < 1 {
			return nil, apierr.New(apierr.BadRequest, "Query deserialize error: timeout: invalid value %q, expected an integer of at least 1", v)
		}
		timeout = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(timeout, 2*time.Second))
	defer cancel()
	t := s.svc.ClusterTelemetry(ctx)
	collections := map[string]any{}
	for name, info := range t.Collections {
		shards := []map[string]any{}
		index := map[uint32]int{}
		for _, rs := range info.RemoteShards {
			i, ok := index[rs.ShardID]
			if !ok {
				i = len(shards)
				index[rs.ShardID] = i
				sh := map[string]any{"id": rs.ShardID, "replicas": []map[string]any{}}
				if rs.ShardKey != nil {
					sh["key"] = shardKeyJSON(rs.ShardKey)
				}
				shards = append(shards, sh)
			}
			shards[i]["replicas"] = append(shards[i]["replicas"].([]map[string]any), map[string]any{"peer_id": rs.PeerID, "state": rs.State})
		}
		transfers := make([]map[string]any, len(info.ShardTransfers))
		for i, tr := range info.ShardTransfers {
			transfers[i] = map[string]any{"shard_id": tr.ShardID, "from": tr.From, "to": tr.To, "sync": tr.Sync}
			if tr.Method != "" {
				transfers[i]["method"] = tr.Method
			}
			if tr.Comment != "" {
				transfers[i]["comment"] = tr.Comment
			}
		}
		collections[name] = map[string]any{"id": name, "shards": shards, "shard_transfers": transfers, "reshardings": []any{}}
	}
	peers := map[string]any{}
	for _, p := range t.Peers {
		v := p.Version
		if v == "" {
			v = version.Version
		}
		details := map[string]any{
			"version": v, "is_voter": p.Voter, "term": t.Status.Raft.Term, "commit": t.Status.Raft.Commit,
			"num_pending_operations": 0, "consensus_thread_status": consensusThreadJSON(t.Status),
		}
		if p.Voter && t.Status.ConsensusErr == nil {
			role := "Follower"
			if p.Leader {
				role = "Leader"
			}
			details["role"] = role
		}
		peers[jsonUint(p.ID)] = map[string]any{"uri": p.URI, "responsive": true, "details": details}
	}
	return map[string]any{
		"collections": collections,
		"cluster":     map[string]any{"enabled": true, "number_of_peers": len(t.Peers), "peers": peers},
	}, nil
}

// recoverCurrentPeer serves POST /cluster/recover (recover_current_peer):
// true once the meta tier has a Raft leader (see
// service.RecoverCurrentPeer).
func (s *Server) recoverCurrentPeer(r *http.Request, _ []byte) (any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.svc.RecoverCurrentPeer(ctx); err != nil {
		return nil, err
	}
	return true, nil
}

// getQuotas serves GET /quotas (get_quotas): QuotaStatus with the stored
// configuration and this router's utilization.
func (s *Server) getQuotas(r *http.Request, _ []byte) (any, error) {
	raw, usage, err := s.svc.Quotas(r.Context())
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, apierr.New(apierr.Internal, "Service internal error: stored quota configuration does not decode: %v", err)
		}
	}
	if _, ok := cfg["enabled"]; !ok {
		cfg["enabled"] = false
	}
	u := map[string]any{"resident_memory_percent": usage.ResidentMemoryPercent, "disk_usage_percent": usage.DiskUsagePercent}
	peer := map[string]any{"exceeded": false, "resident_memory_percent": usage.ResidentMemoryPercent, "disk_usage_percent": usage.DiskUsagePercent}
	return map[string]any{
		"config": cfg,
		"usage":  u,
		"peers":  map[string]any{jsonUint(s.svc.NodeID()): peer},
	}, nil
}

// quotaLimits are QuotaConfig's percentage members with their minimum
// (the maximum is 100).
var quotaLimits = map[string]uint64{"max_resident_memory_percent": 1, "max_disk_usage_percent": 1, "release_margin_percent": 0}

// updateQuotas serves PUT /quotas (update_quotas): the body is
// QuotaConfig, stored as given (members in canonical form) by meta.
func (s *Server) updateQuotas(r *http.Request, body []byte) (any, error) {
	if _, err := queryBool(r, "wait"); err != nil {
		return nil, err
	}
	cfg, err := decodeQuotaConfig(body)
	if err != nil {
		return nil, err
	}
	if err := s.svc.SetQuotas(r.Context(), cfg); err != nil {
		return nil, err
	}
	return true, nil
}

// decodeQuotaConfig validates QuotaConfig and returns it re-encoded with
// only its set members.
func decodeQuotaConfig(body []byte) ([]byte, error) {
	f, err := object(body, true, "enabled", "max_resident_memory_percent", "max_disk_usage_percent", "release_margin_percent")
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if f.present("enabled") {
		b, err := f.boolField("enabled")
		if err != nil {
			return nil, err
		}
		if b != nil {
			out["enabled"] = *b
		}
	}
	for name, low := range quotaLimits {
		if !f.present(name) || isNull(f[name]) {
			continue
		}
		v, err := f.uintField(name, 8)
		if err != nil {
			return nil, apierr.Format("%s: invalid value %s, expected an integer from %d to 100", name, f[name], low)
		}
		if *v < low || *v > 100 {
			return nil, apierr.Invalid(name, "value %d invalid, must be from %d to 100", *v, low)
		}
		out[name] = *v
	}
	return json.Marshal(out)
}
