// Package cluster holds what every tier shares about the cluster state in
// etcd: the key layout, node registration under a lease, node identity, and
// a watched, in-memory copy of the catalog and shard maps.
package cluster

import (
	"fmt"
	"strconv"
	"strings"
)

// Prefix is the root of every key Shoal writes; the version lets a later
// layout live beside this one during an upgrade.
const Prefix = "/shoal/v1/"

// Key prefixes, each ending in '/'.
const (
	NodesPrefix       = Prefix + "nodes/"
	CollectionsPrefix = Prefix + "collections/"
	ShardMapsPrefix   = Prefix + "shardmaps/"
	StatusPrefix      = Prefix + "status/"
)

// NodeKey is where node id registers itself (under its lease).
func NodeKey(id uint64) string { return NodesPrefix + strconv.FormatUint(id, 10) }

// CollectionKey holds a Collection.
func CollectionKey(name string) string { return CollectionsPrefix + name }

// ShardMapKey holds a ShardMap.
func ShardMapKey(name string) string { return ShardMapsPrefix + name }

// StatusKey holds a ReplicaStatus reported by node (under its lease).
func StatusKey(node uint64, collection string, shard uint32) string {
	return fmt.Sprintf("%s%d/%s/%d", StatusPrefix, node, collection, shard)
}

// NodeIDFromKey parses the id of a NodeKey.
func NodeIDFromKey(key string) (uint64, error) {
	return strconv.ParseUint(strings.TrimPrefix(key, NodesPrefix), 10, 64)
}

// NATSPrefix holds, per meta node (under its lease), the NATS URL that
// the cluster's nodes connect to for shard transfers.
const NATSPrefix = Prefix + "nats/"

// NATSKey is meta node id's NATS URL key.
func NATSKey(id uint64) string { return NATSPrefix + strconv.FormatUint(id, 10) }

// NATSRoutesPrefix holds, per meta node (under its lease), the cluster
// (route) URL of its embedded NATS server, nats-route://host:port, which
// the other meta nodes' servers connect to so that they form one NATS
// cluster. Absent with an external NATS.
const NATSRoutesPrefix = Prefix + "nats_routes/"

// NATSRouteKey is meta node id's NATS route URL key.
func NATSRouteKey(id uint64) string { return NATSRoutesPrefix + strconv.FormatUint(id, 10) }

// AliasesPrefix holds one key per collection alias; the value is the
// collection's name as plain text.
const AliasesPrefix = Prefix + "aliases/"

// AliasKey is where alias is stored.
func AliasKey(alias string) string { return AliasesPrefix + alias }

// TransfersPrefix holds the shard transfer records (ShardTransfer) that
// the meta controller drives; TransferKey names one.
const TransfersPrefix = Prefix + "transfers/"

// TransferPrefix holds collection's transfer records.
func TransferPrefix(collection string) string { return TransfersPrefix + collection + "/" }

// TransferKey is the record of the transfer of collection's shard from
// node from to node to (to is 0 for a drop).
func TransferKey(collection string, shard uint32, from, to uint64) string {
	return fmt.Sprintf("%s%d/%d-%d", TransferPrefix(collection), shard, from, to)
}

// TransferProgressPrefix holds the progress reports (TransferProgress)
// of the full copies and catch-ups primaries are running, each under the
// primary's lease; TransferProgressKey names one.
const TransferProgressPrefix = Prefix + "transfer_progress/"

// TransferProgressKey is the progress report of the copy of collection's
// shard to node to.
func TransferProgressKey(collection string, shard uint32, to uint64) string {
	return fmt.Sprintf("%s%s/%d/%d", TransferProgressPrefix, collection, shard, to)
}

// SnapshotsPrefix holds the records of collection snapshots (under
// collections/<collection>/<name>) and full snapshots (under
// full/<name>) that routers create; the files themselves live on storage
// nodes. Collection names never contain '/'.
const (
	SnapshotsPrefix     = Prefix + "snapshots/"
	FullSnapshotsPrefix = SnapshotsPrefix + "full/"
)

// CollectionSnapshotPrefix holds collection's snapshot records.
func CollectionSnapshotPrefix(collection string) string {
	return SnapshotsPrefix + "collections/" + collection + "/"
}

// CollectionSnapshotKey is the record of collection's snapshot name.
func CollectionSnapshotKey(collection, name string) string {
	return CollectionSnapshotPrefix(collection) + name
}

// FullSnapshotKey is the record of full snapshot name.
func FullSnapshotKey(name string) string { return FullSnapshotsPrefix + name }
