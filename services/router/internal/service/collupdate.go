package service

import (
	"bytes"
	"context"
	"encoding/json"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// UpdatableFields are the configuration diffs an update may carry (Qdrant
// names), kept in the collection's extra_json.
var UpdatableFields = []string{"hnsw_config", "optimizers_config", "quantization_config", "strict_mode_config", "metadata"}

// UpdateCollectionRequest changes a collection's parameters (Qdrant's
// PATCH /collections/{name}). Nil members are left unchanged.
type UpdateCollectionRequest struct {
	Name string
	// Extra maps a field of UpdatableFields to its diff, a JSON object
	// whose members replace the stored ones (null removes one);
	// quantization_config may also be "Disabled".
	Extra map[string]json.RawMessage
	// Vectors maps a vector name ("" for the unnamed one) to a diff of its
	// options (hnsw_config, quantization_config, on_disk).
	Vectors                map[string]json.RawMessage
	ReplicationFactor      *uint32
	WriteConsistencyFactor *uint32
	OnDiskPayload          *bool
}

// UpdateCollection validates the update against the current configuration
// and asks meta to store it; it returns once this router's state shows it
// (or SettleTimeout passed). The stored parameters are what collection
// info reports; a new replication_factor applies to shards placed later,
// as in Qdrant.
func (s *Service) UpdateCollection(ctx context.Context, req UpdateCollectionRequest) error {
	c, err := s.resolve(req.Name)
	if err != nil {
		return err
	}
	cfg := c.Meta.GetConfig()
	patch := map[string]any{}
	for k, v := range req.Extra {
		if isNull(v) {
			continue
		}
		d, err := decodeDiff(k, v)
		if err != nil {
			return err
		}
		patch[k] = d
	}
	if len(req.Vectors) > 0 {
		opts := map[string]any{}
		for name, v := range req.Vectors {
			if _, ok := cfg.GetVectors()[name]; !ok {
				return apierr.BadInput("Not existing vector name error: %s", name)
			}
			if isNull(v) {
				continue
			}
			d, err := decodeDiff("vectors."+name, v)
			if err != nil {
				return err
			}
			opts[name] = d
		}
		patch[VectorOptionsKey] = opts
	}
	// Check the outcome the way a create request is checked.
	var current any = map[string]any{}
	if len(cfg.GetExtraJson()) > 0 {
		if err := decodeNumbers(cfg.GetExtraJson(), &current); err != nil {
			current = map[string]any{}
		}
	}
	merged, _ := json.Marshal(mergePatch(current, patch))
	var extra map[string]json.RawMessage
	_ = json.Unmarshal(merged, &extra)
	if _, _, _, err := decodeExtras(extra); err != nil {
		return err
	}
	rf, wcf := cfg.GetReplicationFactor(), cfg.GetWriteConsistencyFactor()
	for field, v := range map[string]*uint32{"params.replication_factor": req.ReplicationFactor, "params.write_consistency_factor": req.WriteConsistencyFactor} {
		if v != nil && *v < 1 {
			return apierr.Invalid(field, "value %d invalid, must be 1 or larger", *v)
		}
	}
	if req.ReplicationFactor != nil {
		rf = *req.ReplicationFactor
	}
	if req.WriteConsistencyFactor != nil {
		wcf = *req.WriteConsistencyFactor
	}
	if wcf > rf {
		return apierr.BadInput("write_consistency_factor (%d) must not be greater than replication_factor (%d)", wcf, rf)
	}

	mreq := &shoalv1.UpdateCollectionRequest{
		Name: c.Name(), ReplicationFactor: req.ReplicationFactor, WriteConsistencyFactor: req.WriteConsistencyFactor, OnDiskPayload: req.OnDiskPayload,
	}
	if len(patch) > 0 {
		mreq.ExtraPatchJson, _ = json.Marshal(patch)
	}
	var rev int64
	err = s.callMeta(ctx, "update collection", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.UpdateCollection(ctx, connect.NewRequest(mreq))
		if err == nil {
			rev = r.Msg.GetRevision()
		}
		return err
	})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.opt.SettleTimeout)
	defer cancel()
	if err := s.opt.State.WaitRevision(wctx, rev); err != nil {
		s.opt.Log.Warn().Err(err).Str("collection", c.Name()).Msg("cluster state did not catch up with the update; answering anyway")
	}
	return nil
}

// decodeDiff decodes one diff: a JSON object (numbers kept exact), or the
// string "Disabled" for quantization_config, which removes it.
func decodeDiff(field string, raw json.RawMessage) (any, error) {
	t := bytes.TrimSpace(raw)
	if string(t) == `"Disabled"` && (field == "quantization_config" || bytes.HasSuffix([]byte(field), []byte(".quantization_config"))) {
		return nil, nil
	}
	var v any
	if err := decodeNumbers(t, &v); err != nil {
		return nil, apierr.Format("%s: %v", field, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, apierr.Format("%s: expected an object", field)
	}
	return v, nil
}

func decodeNumbers(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// mergePatch applies a JSON merge patch (RFC 7386) to target, as meta
// does when it stores the update.
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
