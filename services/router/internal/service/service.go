// Package service is the router's API below the wire formats: Go-typed
// collection, point, search and cluster operations with their validation,
// defaults and Qdrant's semantics. The REST layer (and later the gRPC
// layer) decode requests into these types, call the service and encode its
// results; no behaviour lives in a wire format.
//
// Every error returned is an *apierr.Error.
package service

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// State is the watched cluster state the service reads; *cluster.State
// implements it.
type State interface {
	routing.Topology
	Collections() []*shoalv1.Collection
	Nodes(tier shoalv1.NodeTier) []*shoalv1.Node
	Changed() <-chan struct{}
	// WaitRevision blocks until the state reflects etcd revision rev.
	WaitRevision(ctx context.Context, rev int64) error
	// Transfers returns a collection's shard transfer records.
	Transfers(collection string) []*shoalv1.ShardTransfer
	// TransferProgress returns the progress report of the copy of
	// collection's shard to node to, while its primary runs one.
	TransferProgress(collection string, shard uint32, to uint64) (*shoalv1.TransferProgress, bool)
}

// Aliases is the watched alias table; *aliases.Table implements it.
type Aliases interface {
	// Resolve returns the collection an alias names.
	Resolve(alias string) (string, bool)
	// All returns alias → collection.
	All() map[string]string
	// WaitRevision blocks until the table reflects etcd revision rev (a
	// revision that changed aliases: the table only sees those).
	WaitRevision(ctx context.Context, rev int64) error
	// Changed returns a channel closed at the next change.
	Changed() <-chan struct{}
}

// MetaDialer returns the MetaService client of a meta node's API URI;
// *clients.Pool implements it.
type MetaDialer interface {
	Meta(uri string) shoalv1connect.MetaServiceClient
}

// Defaults are the router's defaults for what a create request leaves
// out. (shard_number, replication_factor and write_consistency_factor are
// defaulted by meta.)
type Defaults struct {
	// OnDiskPayload is storage.on_disk_payload.
	OnDiskPayload bool
}

// Options wires a Service.
type Options struct {
	// NodeID is this router's node id (its peer_id in cluster answers).
	NodeID    uint64
	State     State
	Aliases   Aliases
	Router    *routing.Router
	Meta      MetaDialer
	Consensus Consensus
	Defaults  Defaults
	Log       zerolog.Logger
	// Snapshots configures collection and full snapshots (snapshots*.go).
	Snapshots SnapshotOptions
	// SettleTimeout bounds how long a create or delete waits for the local
	// state to show its outcome (and for new replicas to leave
	// Initializing). Zero means 10 s.
	SettleTimeout time.Duration
}

// Service implements the router's operations. It is safe for concurrent use.
type Service struct {
	opt    Options
	issues *issueLog
}

// New returns a service.
func New(opt Options) *Service {
	if opt.SettleTimeout == 0 {
		opt.SettleTimeout = 10 * time.Second
	}
	return &Service{opt: opt, issues: newIssueLog()}
}

// NodeID is this router's node id.
func (s *Service) NodeID() uint64 { return s.opt.NodeID }

// resolve snapshots a collection, named directly or through an alias (an
// alias wins over a collection of the same name, as in Qdrant, though meta
// never lets both exist), or returns Qdrant's not-found error.
func (s *Service) resolve(name string) (*routing.Collection, error) {
	return s.opt.Router.Resolve(s.resolveName(name))
}

// resolveName returns the collection name behind an alias, or name.
func (s *Service) resolveName(name string) string {
	if s.opt.Aliases != nil {
		if c, ok := s.opt.Aliases.Resolve(name); ok {
			return c
		}
	}
	return name
}

// waitFor blocks until cond holds on the local state, or ctx ends.
func (s *Service) waitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := s.opt.State.Changed()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// callMeta runs call on a meta node's API, trying the registered meta
// nodes in turn while they are unreachable.
func (s *Service) callMeta(ctx context.Context, what string, call func(shoalv1connect.MetaServiceClient) error) error {
	var tried int
	var last error
	for _, n := range s.opt.State.Nodes(shoalv1.NodeTier_NODE_TIER_META) {
		if n.GetApiUri() == "" {
			continue
		}
		tried++
		err := call(s.opt.Meta.Meta(n.GetApiUri()))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !apierr.Retryable(err) {
			return apierr.FromConnect(err, what)
		}
		last = err
		s.opt.Log.Warn().Err(err).Uint64("meta_node", n.GetId()).Str("op", what).Msg("meta node failed; trying the next")
	}
	if tried == 0 {
		return apierr.NoService("%s: no meta node is registered", what)
	}
	return apierr.NoService("%s: no meta node answered: %v", what, last)
}

// checkName validates a collection name as Qdrant does: 1-255 characters,
// none of them a path separator or otherwise unsafe in a file name.
func checkName(name string) error {
	if name == "" || len(name) > 255 {
		return apierr.New(apierr.Validation, "Validation error in path parameters: [collection_name: length must be between 1 and 255]")
	}
	for _, r := range name {
		switch r {
		case '/', '\\', ':', '*', '?', '"', '<', '>', '|', 0:
			return apierr.New(apierr.Validation, "Validation error in path parameters: [collection_name: collection name cannot contain %q char]", string(r))
		}
	}
	if name == "." || name == ".." {
		return apierr.New(apierr.Validation, "Validation error in path parameters: [collection_name: collection name cannot be . or ..]")
	}
	return nil
}
