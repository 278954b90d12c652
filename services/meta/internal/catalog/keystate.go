package catalog

import (
	"fmt"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// A shard key's initial_state (Qdrant's CreateShardingKey.initial_state)
// says in which state its new replicas start:
//   - unset or Initializing: the default; replicas are Initializing until
//     their storage nodes hold them, then Active.
//   - Active: replicas are placed Active at once, without waiting for the
//     storage nodes (writes meanwhile are retried by the routers until
//     the primary's node has opened its replica).
//   - Partial: the primary replica is activated as by default; the other
//     replicas start Partial, like the target of a replication: the
//     primary replays its log to each and marks it Active once it holds
//     everything, and no read goes to it before.
// Other states are refused.

// checkInitialState validates a shard key's initial_state.
func checkInitialState(st shoalv1.ReplicaState) error {
	switch st {
	case shoalv1.ReplicaState_REPLICA_STATE_UNSPECIFIED, shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING,
		shoalv1.ReplicaState_REPLICA_STATE_ACTIVE, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL:
		return nil
	}
	return fmt.Errorf("Bad request: initial_state %s is not supported: use Active or Partial", st)
}

// applyInitialState sets the states of a newly placed shard's replicas
// (Initializing as placed; Listener replicas stay Listener).
func applyInitialState(sh *shoalv1.Shard, st shoalv1.ReplicaState) {
	for _, r := range sh.GetReplicas() {
		if r.GetState() != shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING {
			continue
		}
		switch {
		case st == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE:
			r.State = st
		case st == shoalv1.ReplicaState_REPLICA_STATE_PARTIAL && r.GetNodeId() != sh.GetPrimary():
			r.State = st
		}
	}
}
