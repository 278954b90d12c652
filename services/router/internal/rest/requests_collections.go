package rest

import (
	"encoding/json"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// decodeUpdateCollection decodes UpdateCollection (PATCH). Diffs are kept
// as given for the service to validate; params.read_fan_out_factor,
// read_fan_out_delay_ms and payload are accepted and have no effect.
func decodeUpdateCollection(name string, body []byte) (service.UpdateCollectionRequest, error) {
	req := service.UpdateCollectionRequest{Name: name, Extra: map[string]json.RawMessage{}}
	allowed := append([]string{"vectors", "params", "sparse_vectors"}, service.UpdatableFields...)
	f, err := object(body, true, allowed...)
	if err != nil {
		return req, err
	}
	if err := f.mustBeNull("sparse_vectors", apierr.Unsupported("sparse vectors")); err != nil {
		return req, err
	}
	for _, k := range service.UpdatableFields {
		if f.present(k) {
			req.Extra[k] = f[k]
		}
	}
	if f.present("vectors") {
		vf, err := members(f["vectors"], "vectors")
		if err != nil {
			return req, err
		}
		req.Vectors = map[string]json.RawMessage{}
		for vname, raw := range vf {
			if isNull(raw) {
				continue
			}
			if _, err := members(raw, "vectors."+vname, "hnsw_config", "quantization_config", "on_disk"); err != nil {
				return req, err
			}
			req.Vectors[vname] = raw
		}
	}
	if f.present("params") {
		pf, err := members(f["params"], "params", "replication_factor", "write_consistency_factor", "read_fan_out_factor", "read_fan_out_delay_ms", "on_disk_payload", "payload")
		if err != nil {
			return req, err
		}
		if req.ReplicationFactor, err = pf.uint32Field("replication_factor"); err != nil {
			return req, err
		}
		if req.WriteConsistencyFactor, err = pf.uint32Field("write_consistency_factor"); err != nil {
			return req, err
		}
		if req.OnDiskPayload, err = pf.boolField("on_disk_payload"); err != nil {
			return req, err
		}
		if _, err = pf.uint32Field("read_fan_out_factor"); err != nil {
			return req, err
		}
		if _, err = pf.uintField("read_fan_out_delay_ms", 64); err != nil {
			return req, err
		}
	}
	return req, nil
}

// decodeAliases decodes ChangeAliasesOperation.
func decodeAliases(body []byte) ([]service.AliasAction, error) {
	f, err := object(body, false, "actions")
	if err != nil {
		return nil, err
	}
	if !f.present("actions") {
		return nil, apierr.Format("missing field `actions`")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(f["actions"], &elems); err != nil || elems == nil {
		return nil, apierr.Format("actions: expected an array, got %s", kindOf(f["actions"]))
	}
	out := make([]service.AliasAction, len(elems))
	for i, e := range elems {
		af, err := members(e, "actions", "create_alias", "delete_alias", "rename_alias")
		if err != nil {
			return nil, err
		}
		if len(af) != 1 {
			return nil, apierr.Format("actions: each action must have exactly one of `create_alias`, `delete_alias`, `rename_alias`")
		}
		str := func(g fields, name string) (string, error) {
			v, err := g.stringField(name)
			if err != nil {
				return "", err
			}
			if v == nil {
				return "", apierr.Format("missing field `%s`", name)
			}
			return *v, nil
		}
		switch {
		case af.present("create_alias"):
			g, err := members(af["create_alias"], "create_alias", "collection_name", "alias_name")
			if err != nil {
				return nil, err
			}
			d := &service.AliasDescription{}
			if d.Collection, err = str(g, "collection_name"); err != nil {
				return nil, err
			}
			if d.Alias, err = str(g, "alias_name"); err != nil {
				return nil, err
			}
			out[i].Create = d
		case af.present("delete_alias"):
			g, err := members(af["delete_alias"], "delete_alias", "alias_name")
			if err != nil {
				return nil, err
			}
			a, err := str(g, "alias_name")
			if err != nil {
				return nil, err
			}
			out[i].Delete = &a
		case af.present("rename_alias"):
			g, err := members(af["rename_alias"], "rename_alias", "old_alias_name", "new_alias_name")
			if err != nil {
				return nil, err
			}
			rn := &service.AliasRename{}
			if rn.Old, err = str(g, "old_alias_name"); err != nil {
				return nil, err
			}
			if rn.New, err = str(g, "new_alias_name"); err != nil {
				return nil, err
			}
			out[i].Rename = rn
		default:
			return nil, apierr.Format("actions: expected an object, got null")
		}
	}
	return out, nil
}
