package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// shardKeyValue decodes a ShardKey: a string or a non-negative integer.
func shardKeyValue(raw json.RawMessage, what string) (*shoalv1.ShardKey, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, apierr.Format("%s: %v", what, err)
		}
		return routing.Keyword(s), nil
	}
	n, err := strconv.ParseUint(string(t), 10, 64)
	if err != nil {
		return nil, apierr.Format("%s: expected a string or a non-negative integer, got %s", what, kindOf(raw))
	}
	return routing.Number(n), nil
}

// shardKeySelector decodes the optional shard_key field (ShardKeySelector:
// one key, a list of keys, or {"target": key, "fallback": key}).
func shardKeySelector(f fields) (*routing.KeySelector, error) {
	if !f.present("shard_key") {
		return nil, nil
	}
	raw := bytes.TrimSpace(f["shard_key"])
	switch raw[0] {
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, apierr.Format("shard_key: %v", err)
		}
		sel := &routing.KeySelector{}
		for i, item := range list {
			k, err := shardKeyValue(item, "shard_key["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			sel.Keys = append(sel.Keys, k)
		}
		return sel, nil
	case '{':
		o, err := members(raw, "shard_key", "target", "fallback")
		if err != nil {
			return nil, err
		}
		if !o.present("target") || !o.present("fallback") {
			return nil, apierr.Format("shard_key: expected both `target` and `fallback`")
		}
		target, err := shardKeyValue(o["target"], "shard_key.target")
		if err != nil {
			return nil, err
		}
		fallback, err := shardKeyValue(o["fallback"], "shard_key.fallback")
		if err != nil {
			return nil, err
		}
		return &routing.KeySelector{Keys: []*shoalv1.ShardKey{target}, Fallback: fallback}, nil
	}
	k, err := shardKeyValue(raw, "shard_key")
	if err != nil {
		return nil, err
	}
	return &routing.KeySelector{Keys: []*shoalv1.ShardKey{k}}, nil
}

// shardKeyJSON renders a shard key as Qdrant does: a string or a number.
func shardKeyJSON(k *shoalv1.ShardKey) any {
	if kw, ok := k.GetKey().(*shoalv1.ShardKey_Keyword); ok {
		return kw.Keyword
	}
	return k.GetNumber()
}

// requiredShardKey decodes the required shard_key of CreateShardingKey
// and DropShardingKey.
func requiredShardKey(f fields) (*shoalv1.ShardKey, error) {
	if !f.present("shard_key") {
		return nil, apierr.Format("missing field `shard_key`")
	}
	return shardKeyValue(f["shard_key"], "shard_key")
}

// createShardKey serves PUT /collections/{name}/shards.
func (s *Server) createShardKey(r *http.Request, body []byte) (any, error) {
	f, err := object(body, false, createShardingKeyFields...)
	if err != nil {
		return nil, err
	}
	req, err := decodeCreateShardingKey(f)
	if err != nil {
		return nil, err
	}
	if err := s.svc.CreateShardKey(r.Context(), r.PathValue("name"), req); err != nil {
		return nil, err
	}
	return true, nil
}

// createShardingKeyFields are the members of CreateShardingKey.
var createShardingKeyFields = []string{"shard_key", "shards_number", "replication_factor", "placement", "initial_state"}

// decodeCreateShardingKey decodes CreateShardingKey (the body of PUT
// /collections/{name}/shards and of the create_sharding_key cluster
// operation).
func decodeCreateShardingKey(f fields) (service.CreateShardKeyRequest, error) {
	var err error
	var req service.CreateShardKeyRequest
	if req.Key, err = requiredShardKey(f); err != nil {
		return req, err
	}
	for _, field := range []string{"shards_number", "replication_factor"} {
		v, err := f.uint32Field(field)
		if err != nil {
			return req, err
		}
		if v != nil && *v < 1 {
			return req, apierr.Invalid(field, "value %d invalid, must be 1 or larger", *v)
		}
		if v != nil && field == "shards_number" {
			req.ShardsNumber = *v
		} else if v != nil {
			req.ReplicationFactor = *v
		}
	}
	if f.present("placement") {
		if err := json.Unmarshal(f["placement"], &req.Placement); err != nil {
			return req, apierr.Format("placement: expected a list of peer ids: %v", err)
		}
	}
	if f.present("initial_state") && !isNull(f["initial_state"]) {
		if req.InitialState, err = initialState(f["initial_state"]); err != nil {
			return req, err
		}
	}
	return req, nil
}

// initialState decodes a ReplicaState given as a shard key's
// initial_state: Active, Partial or Initializing are served, Qdrant's
// other states are refused.
func initialState(raw json.RawMessage) (shoalv1.ReplicaState, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return 0, apierr.Format("initial_state: invalid type: %s, expected a string", kindOf(raw))
	}
	switch name {
	case "Active":
		return shoalv1.ReplicaState_REPLICA_STATE_ACTIVE, nil
	case "Partial":
		return shoalv1.ReplicaState_REPLICA_STATE_PARTIAL, nil
	case "Initializing":
		return shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING, nil
	case "Dead", "Listener", "PartialSnapshot", "Recovery", "Resharding", "ReshardingScaleDown", "ActiveRead", "ManualRecovery":
		return 0, apierr.Unsupported("initial_state " + name)
	}
	return 0, apierr.Format("initial_state: unknown variant `%s`, expected one of `Active`, `Dead`, `Partial`, `Initializing`, `Listener`, `PartialSnapshot`, `Recovery`, `Resharding`, `ReshardingScaleDown`, `ActiveRead`, `ManualRecovery`", name)
}

// deleteShardKey serves POST /collections/{name}/shards/delete.
func (s *Server) deleteShardKey(r *http.Request, body []byte) (any, error) {
	f, err := object(body, false, "shard_key")
	if err != nil {
		return nil, err
	}
	key, err := requiredShardKey(f)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DeleteShardKey(r.Context(), r.PathValue("name"), key); err != nil {
		return nil, err
	}
	return true, nil
}

// listShardKeys serves GET /collections/{name}/shards.
func (s *Server) listShardKeys(r *http.Request, _ []byte) (any, error) {
	keys, err := s.svc.ListShardKeys(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if keys == nil {
		return map[string]any{"shard_keys": nil}, nil
	}
	out := make([]map[string]any, len(keys))
	for i, k := range keys {
		out[i] = map[string]any{"key": shardKeyJSON(k)}
	}
	return map[string]any{"shard_keys": out}, nil
}
