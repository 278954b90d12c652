package rest

import (
	"encoding/json"
	"math"
	"time"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// JSON shapes of Qdrant's responses (see the OpenAPI schemas named in each
// type's comment).

// recordJSON is Record.
type recordJSON struct {
	ID         any             `json:"id"`
	Payload    json.RawMessage `json:"payload"`
	Vector     any             `json:"vector"`
	OrderValue any             `json:"order_value,omitempty"`
}

// scoredJSON is ScoredPoint.
type scoredJSON struct {
	ID         any             `json:"id"`
	Version    uint64          `json:"version"`
	Score      float32         `json:"score"`
	Payload    json.RawMessage `json:"payload"`
	Vector     any             `json:"vector"`
	OrderValue any             `json:"order_value,omitempty"`
}

// orderValueJSON is OrderValue: an integer when the value is integral
// (integer and datetime fields), a float otherwise; nil when unset.
func orderValueJSON(v *float64) any {
	if v == nil {
		return nil
	}
	if *v == math.Trunc(*v) && math.Abs(*v) < 1<<53 {
		return int64(*v)
	}
	return *v
}

// vectorJSON is VectorStructOutput: nil (null) when not requested, a
// plain vector for a single-vector collection, a map of named vectors
// otherwise.
func vectorJSON(v map[string][]float32) any {
	if v == nil {
		return nil
	}
	if plain, ok := v[""]; ok && len(v) == 1 {
		return plain
	}
	return v
}

func payloadJSON(p json.RawMessage) json.RawMessage {
	if p == nil {
		return json.RawMessage("null")
	}
	return p
}

func idJSON(id *shoalv1.PointID) any {
	if id == nil {
		return nil
	}
	return pointid.JSON(id)
}

func recordsJSON(recs []service.Record) []recordJSON {
	out := make([]recordJSON, len(recs))
	for i, r := range recs {
		out[i] = recordJSON{ID: idJSON(r.ID), Payload: payloadJSON(r.Payload), Vector: vectorJSON(r.Vectors), OrderValue: orderValueJSON(r.OrderValue)}
	}
	return out
}

func scoredPointsJSON(pts []service.ScoredPoint) []scoredJSON {
	out := make([]scoredJSON, len(pts))
	for i, p := range pts {
		out[i] = scoredJSON{ID: idJSON(p.ID), Version: p.Version, Score: p.Score, Payload: payloadJSON(p.Payload), Vector: vectorJSON(p.Vectors), OrderValue: orderValueJSON(p.OrderValue)}
	}
	return out
}

// updateJSON is UpdateResult.
type updateJSON struct {
	OperationID uint64 `json:"operation_id"`
	Status      string `json:"status"`
}

func updateResultJSON(r service.UpdateResult) updateJSON {
	st := "acknowledged"
	if r.Completed {
		st = "completed"
	}
	return updateJSON{OperationID: r.OperationID, Status: st}
}

var distanceNames = map[shoalv1.Distance]string{
	shoalv1.Distance_DISTANCE_COSINE:    "Cosine",
	shoalv1.Distance_DISTANCE_EUCLID:    "Euclid",
	shoalv1.Distance_DISTANCE_DOT:       "Dot",
	shoalv1.Distance_DISTANCE_MANHATTAN: "Manhattan",
}

// vectorParamsJSON is VectorParams: size, distance and the options given
// at creation.
func vectorParamsJSON(p service.VectorParamsView) map[string]any {
	out := map[string]any{}
	if len(p.Options) > 0 {
		var opts map[string]json.RawMessage
		if json.Unmarshal(p.Options, &opts) == nil {
			for k, v := range opts {
				out[k] = v
			}
		}
	}
	out["size"] = p.Size
	out["distance"] = distanceNames[p.Distance]
	return out
}

// collectionInfoJSON is CollectionInfo.
func collectionInfoJSON(info service.CollectionInfo) map[string]any {
	cfg := info.Config
	var vectors any
	if cfg.Named {
		named := map[string]any{}
		for name, p := range cfg.Vectors {
			named[name] = vectorParamsJSON(p)
		}
		vectors = named
	} else {
		vectors = vectorParamsJSON(cfg.Vectors[""])
	}
	params := map[string]any{
		"vectors":                  vectors,
		"shard_number":             cfg.ShardNumber,
		"replication_factor":       cfg.ReplicationFactor,
		"write_consistency_factor": cfg.WriteConsistencyFactor,
		"on_disk_payload":          cfg.OnDiskPayload,
	}
	for _, k := range []string{"sparse_vectors", "payload", "sharding_method"} {
		if v, ok := cfg.Extra[k]; ok {
			params[k] = v
		}
	}
	config := map[string]any{
		"params":              params,
		"hnsw_config":         cfg.Hnsw,
		"optimizer_config":    cfg.Optimizers,
		"wal_config":          cfg.Wal,
		"quantization_config": nil,
		"strict_mode_config":  json.RawMessage(`{"enabled":false}`),
	}
	for _, k := range []string{"quantization_config", "strict_mode_config", "metadata"} {
		if v, ok := cfg.Extra[k]; ok {
			config[k] = v
		}
	}
	return map[string]any{
		"status":                info.Status,
		"optimizer_status":      "ok",
		"indexed_vectors_count": info.IndexedVectorsCount,
		"points_count":          info.PointsCount,
		"segments_count":        info.SegmentsCount,
		"config":                config,
		"payload_schema":        payloadSchemaJSON(info.PayloadSchema),
	}
}

// payloadSchemaJSON is payload_schema: PayloadIndexInfo by field.
func payloadSchemaJSON(schema map[string]service.PayloadIndexInfo) map[string]any {
	out := make(map[string]any, len(schema))
	for field, ix := range schema {
		m := map[string]any{"data_type": ix.DataType, "points": ix.Points}
		if ix.Params != nil {
			m["params"] = ix.Params
		}
		out[field] = m
	}
	return out
}

// clusterStatusJSON is ClusterStatus (the "enabled" form).
func clusterStatusJSON(st service.ClusterStatus) map[string]any {
	peers := map[string]any{}
	for id, uri := range st.Peers {
		peers[jsonUint(id)] = map[string]string{"uri": uri}
	}
	raft := map[string]any{
		"term":               st.Raft.Term,
		"commit":             st.Raft.Commit,
		"pending_operations": 0,
		"leader":             nil,
		"role":               "Follower",
		"is_voter":           false,
	}
	if st.Raft.Leader != 0 {
		raft["leader"] = st.Raft.Leader
	}
	return map[string]any{
		"status":                  "enabled",
		"peer_id":                 st.PeerID,
		"peers":                   peers,
		"raft_info":               raft,
		"consensus_thread_status": consensusThreadJSON(st),
		"message_send_failures":   map[string]any{},
	}
}

// consensusThreadJSON is ConsensusThreadStatus: working, or stopped with
// the error when no meta member answered.
func consensusThreadJSON(st service.ClusterStatus) map[string]any {
	if st.ConsensusErr != nil {
		return map[string]any{"consensus_thread_status": "stopped_with_err", "err": st.ConsensusErr.Error()}
	}
	return map[string]any{"consensus_thread_status": "working", "last_update": st.LastUpdate.Format(time.RFC3339Nano)}
}

// collectionClusterJSON is CollectionClusterInfo.
func collectionClusterJSON(info service.CollectionClusterInfo) map[string]any {
	remote := make([]map[string]any, len(info.RemoteShards))
	for i, r := range info.RemoteShards {
		remote[i] = map[string]any{"shard_id": r.ShardID, "peer_id": r.PeerID, "state": r.State}
		if r.ShardKey != nil {
			remote[i]["shard_key"] = shardKeyJSON(r.ShardKey)
		}
	}
	transfers := make([]map[string]any, len(info.ShardTransfers))
	for i, t := range info.ShardTransfers {
		transfers[i] = map[string]any{"shard_id": t.ShardID, "from": t.From, "to": t.To, "sync": t.Sync, "comment": t.Comment}
		if t.Method != "" {
			transfers[i]["method"] = t.Method
		}
	}
	return map[string]any{
		"peer_id":         info.PeerID,
		"shard_count":     info.ShardCount,
		"local_shards":    []any{},
		"remote_shards":   remote,
		"shard_transfers": transfers,
	}
}

func jsonUint(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
