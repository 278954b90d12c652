package grpcapi

import (
	"github.com/qdrant/go-client/qdrant"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// createShardKeyRequest converts a CreateShardKey (the body of
// CreateShardKey and of the create_shard_key cluster operation).
func createShardKeyRequest(r *qdrant.CreateShardKey) (service.CreateShardKeyRequest, error) {
	if r.GetShardKey() == nil {
		return service.CreateShardKeyRequest{}, apierr.Format("missing field `shard_key`")
	}
	key, err := shardKeyOf(r.GetShardKey())
	if err != nil {
		return service.CreateShardKeyRequest{}, err
	}
	for field, v := range map[string]*uint32{"shards_number": r.ShardsNumber, "replication_factor": r.ReplicationFactor} {
		if v != nil && *v < 1 {
			return service.CreateShardKeyRequest{}, apierr.Invalid(field, "value %d invalid, must be 1 or larger", *v)
		}
	}
	out := service.CreateShardKeyRequest{
		Key: key, ShardsNumber: r.GetShardsNumber(), ReplicationFactor: r.GetReplicationFactor(), Placement: r.GetPlacement(),
	}
	if r.InitialState != nil {
		switch st := r.GetInitialState(); st {
		case qdrant.ReplicaState_Active:
			out.InitialState = shoalv1.ReplicaState_REPLICA_STATE_ACTIVE
		case qdrant.ReplicaState_Partial:
			out.InitialState = shoalv1.ReplicaState_REPLICA_STATE_PARTIAL
		case qdrant.ReplicaState_Initializing:
			out.InitialState = shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING
		default:
			return service.CreateShardKeyRequest{}, apierr.Unsupported("initial_state " + st.String())
		}
	}
	return out, nil
}

// shardingKeyOperation converts the create_shard_key and delete_shard_key
// cluster operations; ok is false for other operations.
func shardingKeyOperation(req *qdrant.UpdateCollectionClusterSetupRequest) (op service.ClusterOperation, ok bool, err error) {
	switch o := req.GetOperation().(type) {
	case *qdrant.UpdateCollectionClusterSetupRequest_CreateShardKey:
		kr, err := createShardKeyRequest(o.CreateShardKey)
		return service.ClusterOperation{Op: service.OpCreateShardingKey, CreateKey: kr}, true, err
	case *qdrant.UpdateCollectionClusterSetupRequest_DeleteShardKey:
		if o.DeleteShardKey.GetShardKey() == nil {
			return op, true, apierr.Format("missing field `shard_key`")
		}
		key, err := shardKeyOf(o.DeleteShardKey.GetShardKey())
		return service.ClusterOperation{Op: service.OpDropShardingKey, DropKey: key}, true, err
	}
	return op, false, nil
}
