package grpcapi

import (
	"context"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"

	"github.com/qdrant/go-client/qdrant"
)

// shardKeyOf converts a Qdrant shard key.
func shardKeyOf(k *qdrant.ShardKey) (*shoalv1.ShardKey, error) {
	switch v := k.GetKey().(type) {
	case *qdrant.ShardKey_Keyword:
		return routing.Keyword(v.Keyword), nil
	case *qdrant.ShardKey_Number:
		return routing.Number(v.Number), nil
	}
	return nil, apierr.Format("shard_key: expected a keyword or a number")
}

// qdrantShardKey converts a shard key for an answer.
func qdrantShardKey(k *shoalv1.ShardKey) *qdrant.ShardKey {
	if kw, ok := k.GetKey().(*shoalv1.ShardKey_Keyword); ok {
		return qdrant.NewShardKey(kw.Keyword)
	}
	return qdrant.NewShardKeyNum(k.GetNumber())
}

// keySelector converts a request's shard_key_selector (nil: none).
func keySelector(s *qdrant.ShardKeySelector) (*routing.KeySelector, error) {
	if s == nil || (len(s.GetShardKeys()) == 0 && s.GetFallback() == nil) {
		return nil, nil
	}
	out := &routing.KeySelector{}
	for _, k := range s.GetShardKeys() {
		sk, err := shardKeyOf(k)
		if err != nil {
			return nil, err
		}
		out.Keys = append(out.Keys, sk)
	}
	if s.GetFallback() != nil {
		if len(out.Keys) != 1 {
			return nil, apierr.Format("shard_key_selector: a fallback needs exactly one target shard key")
		}
		fb, err := shardKeyOf(s.GetFallback())
		if err != nil {
			return nil, err
		}
		out.Fallback = fb
	}
	return out, nil
}

// registerShardKeys serves the shard key RPCs of qdrant.Collections.
func (s *Server) registerShardKeys() {
	unary(s, "/qdrant.Collections/CreateShardKey", true, func(ctx context.Context, req *qdrant.CreateShardKeyRequest) (*qdrant.CreateShardKeyResponse, error) {
		kr, err := createShardKeyRequest(req.GetRequest())
		if err != nil {
			return nil, err
		}
		if err := s.svc.CreateShardKey(ctx, req.GetCollectionName(), kr); err != nil {
			return nil, err
		}
		return &qdrant.CreateShardKeyResponse{Result: true}, nil
	})
	unary(s, "/qdrant.Collections/DeleteShardKey", true, func(ctx context.Context, req *qdrant.DeleteShardKeyRequest) (*qdrant.DeleteShardKeyResponse, error) {
		if req.GetRequest().GetShardKey() == nil {
			return nil, apierr.Format("missing field `shard_key`")
		}
		key, err := shardKeyOf(req.GetRequest().GetShardKey())
		if err != nil {
			return nil, err
		}
		if err := s.svc.DeleteShardKey(ctx, req.GetCollectionName(), key); err != nil {
			return nil, err
		}
		return &qdrant.DeleteShardKeyResponse{Result: true}, nil
	})
	unary(s, "/qdrant.Collections/ListShardKeys", false, func(_ context.Context, req *qdrant.ListShardKeysRequest) (*qdrant.ListShardKeysResponse, error) {
		keys, err := s.svc.ListShardKeys(req.GetCollectionName())
		if err != nil {
			return nil, err
		}
		out := &qdrant.ListShardKeysResponse{ShardKeys: make([]*qdrant.ShardKeyDescription, len(keys))}
		for i, k := range keys {
			out.ShardKeys[i] = &qdrant.ShardKeyDescription{Key: qdrantShardKey(k)}
		}
		return out, nil
	})
}
