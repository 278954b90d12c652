package service

import (
	"context"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// CreateShardKeyRequest creates a shard key of a collection with custom
// sharding (Qdrant's PUT /collections/{name}/shards). Zero ShardsNumber
// and ReplicationFactor take the collection's shard_number and
// replication_factor; an empty Placement allows every Normal storage node.
type CreateShardKeyRequest struct {
	Key               *shoalv1.ShardKey
	ShardsNumber      uint32
	ReplicationFactor uint32
	Placement         []uint64
	// InitialState is the state the key's new replicas start in:
	// UNSPECIFIED (Initializing, then Active once placed), ACTIVE or
	// PARTIAL (see meta's catalog/keystate.go).
	InitialState shoalv1.ReplicaState
}

// target resolves a collection (or alias) and restricts it to the shard
// keys sel names (see routing.Collection.Select).
func (s *Service) target(name string, sel *routing.KeySelector) (*routing.Collection, error) {
	c, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	return c.Select(sel)
}

// checkKey validates a shard key given in a request body.
func checkKey(k *shoalv1.ShardKey) error {
	switch v := k.GetKey().(type) {
	case *shoalv1.ShardKey_Keyword:
		if v.Keyword == "" {
			return apierr.Invalid("shard_key", "must not be empty")
		}
		return nil
	case *shoalv1.ShardKey_Number:
		return nil
	}
	return apierr.Format("missing field `shard_key`")
}

// CreateShardKey asks meta to place and activate the key's shards, then
// waits (at most SettleTimeout) until the local state shows them out of
// Initializing, so that the next write with the key finds them.
func (s *Service) CreateShardKey(ctx context.Context, collection string, req CreateShardKeyRequest) error {
	if err := checkKey(req.Key); err != nil {
		return err
	}
	if req.ShardsNumber > 0 && req.ShardsNumber > maxShardsPerKey {
		return apierr.Invalid("shards_number", "value %d invalid, must be from 1 to %d", req.ShardsNumber, maxShardsPerKey)
	}
	name := s.resolveName(collection)
	c, err := s.resolve(name)
	if err != nil {
		return err
	}
	if !c.Custom() {
		return apierr.New(apierr.BadRequest, "Bad request: Shard keys can only be created for collections with sharding_method `custom`; collection `%s` uses `auto`", name)
	}
	err = s.callMeta(ctx, "create shard key", func(cl shoalv1connect.MetaServiceClient) error {
		_, err := cl.CreateShardKey(ctx, connect.NewRequest(&shoalv1.CreateShardKeyRequest{
			Collection: name, Key: req.Key, ShardsNumber: req.ShardsNumber,
			ReplicationFactor: req.ReplicationFactor, Placement: req.Placement, InitialState: req.InitialState,
		}))
		return err
	})
	if err != nil {
		return err
	}
	id := routing.KeyID(req.Key)
	s.settle(ctx, "create shard key", name, func() bool {
		_, m, ok := s.opt.State.Collection(name)
		if !ok {
			return true // deleted meanwhile: nothing to wait for
		}
		found := false
		for _, sh := range m.GetShards() {
			if sh.GetKey() == nil || routing.KeyID(sh.GetKey()) != id {
				continue
			}
			found = true
			for _, rep := range sh.GetReplicas() {
				if st := rep.GetState(); st == shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING || st == shoalv1.ReplicaState_REPLICA_STATE_UNSPECIFIED {
					return false
				}
			}
		}
		return found
	})
	return nil
}

// maxShardsPerKey bounds shards_number, as meta's MaxShards does.
const maxShardsPerKey = 10000

// DeleteShardKey asks meta to remove the key's shards, then waits (at most
// SettleTimeout) until the local state no longer routes to them.
func (s *Service) DeleteShardKey(ctx context.Context, collection string, key *shoalv1.ShardKey) error {
	if err := checkKey(key); err != nil {
		return err
	}
	name := s.resolveName(collection)
	c, err := s.resolve(name)
	if err != nil {
		return err
	}
	if !c.Custom() {
		return apierr.New(apierr.BadRequest, "Bad request: Shard keys can only be deleted from collections with sharding_method `custom`; collection `%s` uses `auto`", name)
	}
	var rev int64
	err = s.callMeta(ctx, "delete shard key", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.DeleteShardKey(ctx, connect.NewRequest(&shoalv1.DeleteShardKeyRequest{Collection: name, Key: key}))
		if err == nil {
			rev = r.Msg.GetRevision()
		}
		return err
	})
	if err != nil {
		return err
	}
	if rev > 0 {
		wctx, cancel := context.WithTimeout(ctx, s.opt.SettleTimeout)
		defer cancel()
		if err := s.opt.State.WaitRevision(wctx, rev); err != nil {
			s.opt.Log.Warn().Err(err).Str("collection", name).Msg("cluster state did not show the deleted shard key in time; answering anyway")
		}
	}
	return nil
}

// ListShardKeys returns the shard keys of a collection in creation order;
// nil for a collection with auto sharding (Qdrant answers shard_keys:
// null there).
func (s *Service) ListShardKeys(collection string) ([]*shoalv1.ShardKey, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return nil, err
	}
	if !c.Custom() {
		return nil, nil
	}
	keys := c.Keys()
	if keys == nil {
		keys = []*shoalv1.ShardKey{}
	}
	return keys, nil
}
