package replication

import "errors"

// Errors of the write path; the server maps them to Connect codes
// (FailedPrecondition with Shoal-Error-Kind not-primary, Unavailable with
// write-consistency, ResourceExhausted).
var (
	// ErrNotPrimary: this node is not the shard's primary at the term the
	// request names (or has been fenced by a newer term). The sender
	// should refresh its shard map and retry on the primary it names.
	ErrNotPrimary = errors.New("not the shard's primary")
	// ErrConsistency: fewer than write_consistency_factor replicas could
	// hold the write. With this error nothing is reported as written;
	// the write may still reach the replicas later (an unknown outcome).
	ErrConsistency = errors.New("write consistency factor not reached")
	// ErrRateLimited: storage.performance.update_rate_limit concurrent
	// writes are already in progress on this node.
	ErrRateLimited = errors.New("too many concurrent updates")
	// ErrNoLease: this node's lease is not certainly valid (meta is
	// unreachable, or the node was frozen): it coordinates no write, since
	// its shards may have failed over meanwhile.
	ErrNoLease = errors.New("node lease not renewed")
)
