package cluster

import (
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// TransferLimits bound the shard transfers in flight into and out of any
// one storage node (storage.performance.incoming_shard_transfers_limit
// and outgoing_shard_transfers_limit). Zero means unlimited.
type TransferLimits struct {
	Incoming, Outgoing int
}

// TransferLoad counts the transfers in flight per storage node. It is a
// plain value: callers that start transfers Take their slots so that
// later decisions of the same pass see them.
type TransferLoad struct {
	Limits  TransferLimits
	In, Out map[uint64]int
	// targeted holds the replicas a started record targets: their
	// transfer's slots are counted already, also while the replica is Dead
	// and waits to be revived.
	targeted map[transferTarget]bool
}

// transferTarget names one replica a record targets.
type transferTarget struct {
	uid   string
	shard uint32
	node  uint64
}

// Targeted reports whether a started replicate or move record targets
// node's replica of shard uid/shard: reviving that replica continues the
// record's transfer and needs no slot of its own.
func (l *TransferLoad) Targeted(uid string, shard uint32, node uint64) bool {
	return l.targeted[transferTarget{uid, shard, node}]
}

// NewTransferLoad counts the transfers in flight in maps and records:
//
//   - a started (not queued) REPLICATE or MOVE record whose target replica
//     is not Active yet is one incoming transfer on its target and one
//     outgoing on its source;
//   - a Partial or Recovery replica that no such record targets is being
//     recovered by its shard's primary: one incoming transfer on its node
//     and one outgoing on the primary's.
//
// A record is matched with the map of its collection and uid; a record
// whose map or target replica is not there yet still counts.
func NewTransferLoad(limits TransferLimits, maps []*shoalv1.ShardMap, records []*shoalv1.ShardTransfer) *TransferLoad {
	l := &TransferLoad{Limits: limits, In: map[uint64]int{}, Out: map[uint64]int{}, targeted: map[transferTarget]bool{}}
	type target = transferTarget
	byUID := make(map[string]*shoalv1.ShardMap, len(maps))
	for _, m := range maps {
		byUID[m.GetUid()] = m
	}
	targeted := l.targeted
	for _, t := range records {
		if t.GetQueued() || (t.GetKind() != shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_REPLICATE && t.GetKind() != shoalv1.ShardTransferKind_SHARD_TRANSFER_KIND_MOVE) {
			continue
		}
		targeted[target{t.GetUid(), t.GetShardId(), t.GetToNode()}] = true
		if m := byUID[t.GetUid()]; m != nil {
			if sh := FindShard(m, t.GetShardId()); sh != nil {
				if r := FindReplica(sh, t.GetToNode()); r != nil && r.GetState() == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
					continue
				}
			}
		}
		l.Take(t.GetFromNode(), t.GetToNode())
	}
	for _, m := range maps {
		for _, sh := range m.GetShards() {
			for _, r := range sh.GetReplicas() {
				st := r.GetState()
				if st != shoalv1.ReplicaState_REPLICA_STATE_PARTIAL && st != shoalv1.ReplicaState_REPLICA_STATE_RECOVERY {
					continue
				}
				if r.GetNodeId() == sh.GetPrimary() || targeted[target{m.GetUid(), sh.GetId(), r.GetNodeId()}] {
					continue
				}
				l.Take(sh.GetPrimary(), r.GetNodeId())
			}
		}
	}
	return l
}

// Allows reports whether one more transfer from one node to another stays
// within the limits.
func (l *TransferLoad) Allows(from, to uint64) bool {
	if l.Limits.Outgoing > 0 && l.Out[from] >= l.Limits.Outgoing {
		return false
	}
	return l.Limits.Incoming <= 0 || l.In[to] < l.Limits.Incoming
}

// Take counts one more transfer from one node to another.
func (l *TransferLoad) Take(from, to uint64) {
	l.Out[from]++
	l.In[to]++
}
