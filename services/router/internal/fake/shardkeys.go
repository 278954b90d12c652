package fake

import (
	"context"
	"fmt"
	"slices"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// customShards reports whether cfg asks for custom sharding (no shards
// until shard keys are created).
func customShards(cfg *shoalv1.CollectionConfig) bool {
	return cfg.GetShardingMethod() == shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM
}

// CreateShardKey places the key's shards (shards_number, default the
// collection's shard_number) round-robin over the storage nodes, or over
// placement when given, ACTIVE at once, with the next unused shard ids.
func (m metaAPI) CreateShardKey(_ context.Context, req *connect.Request[shoalv1.CreateShardKeyRequest]) (*connect.Response[shoalv1.CreateShardKeyResponse], error) {
	c := m.c
	c.mu.Lock()
	defer c.mu.Unlock()
	col, sm, err := m.customCollection(req.Msg.GetCollection())
	if err != nil {
		return nil, err
	}
	key := req.Msg.GetKey()
	if slices.ContainsFunc(sm.GetShards(), func(sh *shoalv1.Shard) bool { return proto.Equal(sh.GetKey(), key) }) {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: Shard key %v already exists", key))
	}
	nodes := req.Msg.GetPlacement()
	if len(nodes) == 0 {
		for _, s := range c.Storage {
			nodes = append(nodes, s.NodeID)
		}
	}
	for _, n := range nodes {
		if c.node(n) == nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: placement: peer %d is not a storage node", n))
		}
	}
	shards := req.Msg.GetShardsNumber()
	if shards == 0 {
		shards = max(col.GetConfig().GetShardNumber(), 1)
	}
	rf := req.Msg.GetReplicationFactor()
	if rf == 0 {
		rf = max(col.GetConfig().GetReplicationFactor(), 1)
	}
	next := proto.Clone(sm).(*shoalv1.ShardMap)
	first := next.NextShardId
	for _, sh := range next.Shards {
		first = max(first, sh.Id+1)
	}
	for i := uint32(0); i < shards; i++ {
		sh := &shoalv1.Shard{Id: first + i, Term: 1, Key: proto.Clone(key).(*shoalv1.ShardKey)}
		if rf != col.GetConfig().GetReplicationFactor() {
			sh.ReplicationFactor = rf
		}
		for r := uint32(0); r < rf && int(r) < len(nodes); r++ {
			sh.Replicas = append(sh.Replicas, &shoalv1.Replica{NodeId: nodes[(int(i)+int(r))%len(nodes)], State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE})
		}
		sh.Primary = sh.Replicas[0].NodeId
		next.Shards = append(next.Shards, sh)
	}
	next.NextShardId = first + shards
	next.Epoch++
	c.State.PutCollection(col, next)
	return connect.NewResponse(&shoalv1.CreateShardKeyResponse{ShardMap: next}), nil
}

// DeleteShardKey removes the key's shards from the map.
func (m metaAPI) DeleteShardKey(_ context.Context, req *connect.Request[shoalv1.DeleteShardKeyRequest]) (*connect.Response[shoalv1.DeleteShardKeyResponse], error) {
	c := m.c
	c.mu.Lock()
	defer c.mu.Unlock()
	col, sm, err := m.customCollection(req.Msg.GetCollection())
	if err != nil {
		return nil, err
	}
	key := req.Msg.GetKey()
	next := proto.Clone(sm).(*shoalv1.ShardMap)
	for _, sh := range next.Shards {
		next.NextShardId = max(next.NextShardId, sh.Id+1)
	}
	next.Shards = slices.DeleteFunc(next.Shards, func(sh *shoalv1.Shard) bool { return proto.Equal(sh.GetKey(), key) })
	if len(next.Shards) == len(sm.Shards) {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: Shard key %v does not exist", key))
	}
	next.Epoch++
	c.State.PutCollection(col, next)
	return connect.NewResponse(&shoalv1.DeleteShardKeyResponse{}), nil
}

func (m metaAPI) customCollection(name string) (*shoalv1.Collection, *shoalv1.ShardMap, error) {
	col, sm, ok := m.c.State.Collection(name)
	if !ok {
		return nil, nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Not found: Collection `%s` doesn't exist!", name))
	}
	if !customShards(col.GetConfig()) {
		return nil, nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: collection `%s` does not use custom sharding", name))
	}
	return col, sm, nil
}
