package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// UpdateCollection changes a collection's mutable parameters: it applies
// extra_patch_json to the stored extra_json as a JSON merge patch (RFC
// 7386: members replace, null removes, objects merge) and sets
// replication_factor, write_consistency_factor and on_disk_payload when
// given. The write is a compare-and-swap on the collection key, retried
// when another update came in between. A changed replication_factor is
// stored for the shards placed from now on (as in Qdrant); existing shards
// keep their replicas.
func (s *Service) UpdateCollection(ctx context.Context, req *connect.Request[shoalv1.UpdateCollectionRequest]) (*connect.Response[shoalv1.UpdateCollectionResponse], error) {
	name := req.Msg.GetName()
	if err := ValidateName(name); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	var patch any
	if p := bytes.TrimSpace(req.Msg.GetExtraPatchJson()); len(p) > 0 {
		dec := json.NewDecoder(bytes.NewReader(p))
		dec.UseNumber()
		if err := dec.Decode(&patch); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Format error in JSON body: extra_patch_json: %v", err))
		}
		if _, ok := patch.(map[string]any); !ok {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Format error in JSON body: extra_patch_json must be an object"))
		}
	}
	key := cluster.CollectionKey(name)
	for {
		got, err := s.cli.Get(ctx, key)
		if err != nil {
			return nil, storeError(ctx, "read collection "+name, err)
		}
		if len(got.Kvs) == 0 {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", name))
		}
		coll := &shoalv1.Collection{}
		if err := proto.Unmarshal(got.Kvs[0].Value, coll); err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("decode collection %s: %w", name, err))
		}
		if err := applyUpdate(coll.Config, req.Msg, patch); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		val, err := proto.Marshal(coll)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("encode collection: %w", err))
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", got.Kvs[0].ModRevision)).
			Then(clientv3.OpPut(key, string(val))).Commit()
		if err != nil {
			return nil, storeError(ctx, "update collection "+name, err)
		}
		if resp.Succeeded {
			s.log.Info().Str("collection", name).Int64("revision", resp.Header.Revision).Msg("collection updated")
			return connect.NewResponse(&shoalv1.UpdateCollectionResponse{Collection: coll, Revision: resp.Header.Revision}), nil
		}
	}
}

// applyUpdate changes cfg in place and validates the result.
func applyUpdate(cfg *shoalv1.CollectionConfig, req *shoalv1.UpdateCollectionRequest, patch any) error {
	if patch != nil {
		var extra any = map[string]any{}
		if len(bytes.TrimSpace(cfg.ExtraJson)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(cfg.ExtraJson))
			dec.UseNumber()
			if err := dec.Decode(&extra); err != nil {
				return fmt.Errorf("stored extra_json does not decode: %v", err)
			}
		}
		merged := mergePatch(extra, patch)
		if m, ok := merged.(map[string]any); ok && len(m) == 0 {
			cfg.ExtraJson = nil
		} else {
			b, err := json.Marshal(merged)
			if err != nil {
				return fmt.Errorf("encode extra_json: %v", err)
			}
			cfg.ExtraJson = b
		}
	}
	if req.ReplicationFactor != nil {
		if *req.ReplicationFactor < 1 {
			return fmt.Errorf("Validation error in JSON body: [params.replication_factor: value 0 invalid, must be 1 or larger]")
		}
		cfg.ReplicationFactor = *req.ReplicationFactor
	}
	if req.WriteConsistencyFactor != nil {
		if *req.WriteConsistencyFactor < 1 {
			return fmt.Errorf("Validation error in JSON body: [params.write_consistency_factor: value 0 invalid, must be 1 or larger]")
		}
		cfg.WriteConsistencyFactor = *req.WriteConsistencyFactor
	}
	if req.OnDiskPayload != nil {
		cfg.OnDiskPayload = *req.OnDiskPayload
	}
	if cfg.WriteConsistencyFactor > cfg.ReplicationFactor {
		return fmt.Errorf("Wrong input: write_consistency_factor (%d) must not be greater than replication_factor (%d)", cfg.WriteConsistencyFactor, cfg.ReplicationFactor)
	}
	return ValidateConfig(cfg)
}

// mergePatch applies an RFC 7386 JSON merge patch to target (both decoded
// with UseNumber) and returns the result.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}
