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

// Named vectors added to or removed from an existing collection
// (Qdrant's PUT and DELETE /collections/{name}/vectors/{vector}). The
// catalog only changes the collection's config, with a compare-and-swap
// on its key; the router then sends the matching CreateVectorName or
// DeleteVectorName operation through every shard's primary, so each
// replica changes its vector spaces in its log order (see the storage
// replica's vectors_config.go).

// CreateVectorName adds a named vector to a collection with named
// vectors. The same name with the same parameters answers created=false
// without a change (a retry after a lost answer); with other parameters
// it is InvalidArgument. A collection with one unnamed vector is
// InvalidArgument.
func (s *Service) CreateVectorName(ctx context.Context, req *connect.Request[shoalv1.CreateVectorNameRequest]) (*connect.Response[shoalv1.CreateVectorNameResponse], error) {
	name, vname, params := req.Msg.GetCollection(), req.Msg.GetName(), req.Msg.GetParams()
	if err := validateVectorName(vname); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	created := false
	coll, rev, err := s.editCollection(ctx, name, func(cfg *shoalv1.CollectionConfig) (bool, error) {
		if !cfg.GetNamed() {
			return false, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Wrong input: collection `%s` has a single unnamed vector; named vectors can only be added to a collection with named vectors", name))
		}
		if old, ok := cfg.GetVectors()[vname]; ok {
			if proto.Equal(old, params) {
				return false, nil
			}
			return false, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Wrong input: Vector name `%s` already exists in collection `%s` with other parameters", vname, name))
		}
		if cfg.Vectors == nil {
			cfg.Vectors = map[string]*shoalv1.VectorParams{}
		}
		cfg.Vectors[vname] = params
		if err := ValidateConfig(cfg); err != nil {
			return false, connect.NewError(connect.CodeInvalidArgument, err)
		}
		created = true
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if created {
		s.log.Info().Str("collection", name).Str("vector", vname).Int64("revision", rev).Msg("vector name created")
	}
	return connect.NewResponse(&shoalv1.CreateVectorNameResponse{Created: created, Collection: coll, Revision: rev}), nil
}

// DeleteVectorName removes a named vector from a collection's config.
// NotFound when the collection has no such vector; the last vector of a
// collection, or the unnamed one, is InvalidArgument.
func (s *Service) DeleteVectorName(ctx context.Context, req *connect.Request[shoalv1.DeleteVectorNameRequest]) (*connect.Response[shoalv1.DeleteVectorNameResponse], error) {
	name, vname := req.Msg.GetCollection(), req.Msg.GetName()
	coll, rev, err := s.editCollection(ctx, name, func(cfg *shoalv1.CollectionConfig) (bool, error) {
		if _, ok := cfg.GetVectors()[vname]; !ok {
			return false, connect.NewError(connect.CodeNotFound, fmt.Errorf("Not found: Vector name `%s` does not exist in collection `%s`", vname, name))
		}
		if !cfg.GetNamed() || len(cfg.GetVectors()) == 1 {
			return false, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Wrong input: cannot delete `%s`, the last vector of collection `%s`", vname, name))
		}
		delete(cfg.Vectors, vname)
		return true, dropVectorOptions(cfg, vname)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info().Str("collection", name).Str("vector", vname).Int64("revision", rev).Msg("vector name deleted")
	return connect.NewResponse(&shoalv1.DeleteVectorNameResponse{Collection: coll, Revision: rev}), nil
}

// dropVectorOptions removes the per-vector options of vname (extra_json's
// vector_options.<vname>, set by collection updates), so that a vector
// created again under that name starts without them.
func dropVectorOptions(cfg *shoalv1.CollectionConfig, vname string) error {
	if len(bytes.TrimSpace(cfg.GetExtraJson())) == 0 {
		return nil
	}
	var extra map[string]json.RawMessage
	if err := json.Unmarshal(cfg.GetExtraJson(), &extra); err != nil {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("stored extra_json does not decode: %w", err))
	}
	raw, ok := extra["vector_options"]
	if !ok {
		return nil
	}
	var opts map[string]json.RawMessage
	if err := json.Unmarshal(raw, &opts); err != nil {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("stored vector_options do not decode: %w", err))
	}
	if _, ok := opts[vname]; !ok {
		return nil
	}
	delete(opts, vname)
	if len(opts) == 0 {
		delete(extra, "vector_options")
	} else {
		extra["vector_options"], _ = json.Marshal(opts)
	}
	if len(extra) == 0 {
		cfg.ExtraJson = nil
		return nil
	}
	b, err := json.Marshal(extra)
	if err != nil {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("encode extra_json: %w", err))
	}
	cfg.ExtraJson = b
	return nil
}

// validateVectorName checks a vector name as Qdrant's path parameter:
// not empty, no '/', at most MaxNameBytes bytes.
func validateVectorName(vname string) error {
	switch {
	case vname == "":
		return fmt.Errorf("Validation error in path parameters: [vector_name: must not be empty]")
	case len(vname) > MaxNameBytes:
		return fmt.Errorf("Validation error in path parameters: [vector_name: must be at most %d bytes long]", MaxNameBytes)
	}
	return nil
}

// editCollection reads collection name, lets edit change its config
// (true: store the change) and writes it back with a compare-and-swap on
// the key, retrying when another change came in between. It returns the
// collection as stored and the revision of the write (0 when edit stored
// nothing). edit's errors are returned as they are.
func (s *Service) editCollection(ctx context.Context, name string, edit func(*shoalv1.CollectionConfig) (bool, error)) (*shoalv1.Collection, int64, error) {
	if err := ValidateName(name); err != nil {
		return nil, 0, connect.NewError(connect.CodeInvalidArgument, err)
	}
	key := cluster.CollectionKey(name)
	for {
		got, err := s.cli.Get(ctx, key)
		if err != nil {
			return nil, 0, storeError(ctx, "read collection "+name, err)
		}
		if len(got.Kvs) == 0 {
			return nil, 0, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", name))
		}
		coll := &shoalv1.Collection{}
		if err := proto.Unmarshal(got.Kvs[0].Value, coll); err != nil {
			return nil, 0, connect.NewError(connect.CodeInternal, fmt.Errorf("decode collection %s: %w", name, err))
		}
		if coll.Config == nil {
			coll.Config = &shoalv1.CollectionConfig{}
		}
		changed, err := edit(coll.Config)
		if err != nil || !changed {
			return coll, 0, err
		}
		val, err := proto.Marshal(coll)
		if err != nil {
			return nil, 0, connect.NewError(connect.CodeInternal, fmt.Errorf("encode collection %s: %w", name, err))
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", got.Kvs[0].ModRevision)).
			Then(clientv3.OpPut(key, string(val))).Commit()
		if err != nil {
			return nil, 0, storeError(ctx, "update collection "+name, err)
		}
		if resp.Succeeded {
			return coll, resp.Header.Revision, nil
		}
	}
}
