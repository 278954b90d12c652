// Package catalog implements the MetaService: creating collections (with
// shard placement and activation of the new replicas), updating their
// parameters, deleting them, and collection aliases.
// Every write goes through etcd transactions, so any meta node can serve
// any request and concurrent requests for one name resolve to one winner.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// DefaultTimeout bounds a CreateCollection whose caller set no deadline.
const DefaultTimeout = 10 * time.Second

// Service is the MetaService handler.
type Service struct {
	cli      *clientv3.Client
	defaults Defaults
	log      zerolog.Logger
}

var _ shoalv1connect.MetaServiceHandler = (*Service)(nil)

// New returns the service, storing through cli.
func New(cli *clientv3.Client, defaults Defaults, log zerolog.Logger) *Service {
	return &Service{cli: cli, defaults: defaults, log: log.With().Str("component", "catalog").Logger()}
}

// CreateCollection validates the request, places the shards and stores the
// collection and its shard map in one transaction, then waits for the
// storage nodes to report the new replicas and marks them Active.
//
// An existing collection with the same configuration (after defaults; a
// request leaving shard_number at 0 matches the stored one) is not an
// error: the response has created=false and activation is awaited the same
// way, so a caller that timed out can retry. A different configuration is
// AlreadyExists. When the deadline (the caller's, or DefaultTimeout) ends
// before every replica is ready the answer is DeadlineExceeded although
// the collection exists.
func (s *Service) CreateCollection(ctx context.Context, req *connect.Request[shoalv1.CreateCollectionRequest]) (*connect.Response[shoalv1.CreateCollectionResponse], error) {
	name := req.Msg.GetName()
	if err := ValidateName(name); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if err := ValidateConfig(req.Msg.GetConfig()); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	want := proto.Clone(req.Msg.GetConfig()).(*shoalv1.CollectionConfig)
	if err := applyDefaults(want, s.defaults); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	ctx, cancel := withDefaultDeadline(ctx, DefaultTimeout)
	defer cancel()

	coll, created, err := s.store(ctx, name, want)
	if err != nil {
		return nil, err
	}
	waitCtx, cancelWait := waitContext(ctx)
	defer cancelWait()
	m, err := s.activate(waitCtx, coll)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&shoalv1.CreateCollectionResponse{Created: created, Collection: coll, ShardMap: m}), nil
}

// DeleteCollection removes the collection and its shard map in one
// transaction; deleted is false when there was no such collection.
func (s *Service) DeleteCollection(ctx context.Context, req *connect.Request[shoalv1.DeleteCollectionRequest]) (*connect.Response[shoalv1.DeleteCollectionResponse], error) {
	name := req.Msg.GetName()
	if err := ValidateName(name); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	var resp *clientv3.TxnResponse
	for {
		// The collection's aliases go with it, as in Qdrant.
		aliases, guards, err := s.aliasesOf(ctx, name)
		if err != nil {
			return nil, err
		}
		// Its transfer records go too (the controller would end them).
		ops := []clientv3.Op{clientv3.OpDelete(cluster.CollectionKey(name)), clientv3.OpDelete(cluster.ShardMapKey(name)),
			clientv3.OpDelete(cluster.TransferPrefix(name), clientv3.WithPrefix())}
		for _, k := range aliases {
			ops = append(ops, clientv3.OpDelete(k))
		}
		resp, err = s.cli.Txn(ctx).If(guards...).Then(ops...).Commit()
		if err != nil {
			return nil, storeError(ctx, "delete collection "+name, err)
		}
		if resp.Succeeded {
			break
		}
	}
	deleted := resp.Responses[0].GetResponseDeleteRange().GetDeleted() > 0
	if deleted {
		s.log.Info().Str("collection", name).Msg("collection deleted")
	}
	return connect.NewResponse(&shoalv1.DeleteCollectionResponse{Deleted: deleted}), nil
}

// store creates the collection, or returns the existing one when its
// configuration equals want. It loops when another request wins the race
// for the name between the read and the write.
func (s *Service) store(ctx context.Context, name string, want *shoalv1.CollectionConfig) (*shoalv1.Collection, bool, error) {
	for {
		snap, err := s.cli.Txn(ctx).Then(
			clientv3.OpGet(cluster.CollectionKey(name)),
			clientv3.OpGet(cluster.NodesPrefix, clientv3.WithPrefix()),
			clientv3.OpGet(cluster.ShardMapsPrefix, clientv3.WithPrefix()),
			clientv3.OpGet(cluster.AliasKey(name)),
			clientv3.OpGet(cluster.PeersPrefix, clientv3.WithPrefix()),
		).Commit()
		if err != nil {
			return nil, false, storeError(ctx, "read catalog", err)
		}
		if kvs := snap.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
			existing := &shoalv1.Collection{}
			if err := proto.Unmarshal(kvs[0].Value, existing); err != nil {
				return nil, false, connect.NewError(connect.CodeInternal, fmt.Errorf("decode collection %s: %w", name, err))
			}
			return existing, false, sameConfig(name, want, existing.GetConfig())
		}
		if len(snap.Responses[3].GetResponseRange().GetKvs()) > 0 {
			return nil, false, connect.NewError(connect.CodeInvalidArgument,
				fmt.Errorf("Wrong input: Can't create collection with name %s. Alias with the same name already exists", name))
		}

		var nodes []*shoalv1.Node
		for _, kv := range snap.Responses[1].GetResponseRange().GetKvs() {
			n := &shoalv1.Node{}
			if err := proto.Unmarshal(kv.Value, n); err != nil {
				s.log.Warn().Err(err).Str("key", string(kv.Key)).Msg("skip undecodable node")
				continue
			}
			nodes = append(nodes, n)
		}
		nodes = placeable(nodes, cluster.DecodePeerMarks(snap.Responses[4].GetResponseRange().GetKvs()))
		var maps []*shoalv1.ShardMap
		for _, kv := range snap.Responses[2].GetResponseRange().GetKvs() {
			m := &shoalv1.ShardMap{}
			if err := proto.Unmarshal(kv.Value, m); err != nil {
				s.log.Warn().Err(err).Str("key", string(kv.Key)).Msg("skip undecodable shard map")
				continue
			}
			maps = append(maps, m)
		}
		coll, m, err := s.plan(name, want, nodes, maps)
		if err != nil {
			return nil, false, err
		}
		collVal, err := proto.Marshal(coll)
		if err != nil {
			return nil, false, connect.NewError(connect.CodeInternal, fmt.Errorf("encode collection: %w", err))
		}
		mapVal, err := proto.Marshal(m)
		if err != nil {
			return nil, false, connect.NewError(connect.CodeInternal, fmt.Errorf("encode shard map: %w", err))
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(cluster.CollectionKey(name)), "=", 0),
				clientv3.Compare(clientv3.CreateRevision(cluster.AliasKey(name)), "=", 0)).
			Then(
				clientv3.OpPut(cluster.CollectionKey(name), string(collVal)),
				clientv3.OpPut(cluster.ShardMapKey(name), string(mapVal)),
			).Commit()
		if err != nil {
			return nil, false, storeError(ctx, "create collection "+name, err)
		}
		if resp.Succeeded {
			s.log.Info().Str("collection", name).Str("uid", coll.Uid).Uint32("shards", coll.Config.ShardNumber).
				Uint32("replication_factor", coll.Config.ReplicationFactor).Int64("revision", resp.Header.Revision).Msg("collection created")
			return coll, true, nil
		}
		// Another request created the name since our read: compare with it.
	}
}

// plan builds a new collection and its shard map from the registered
// nodes and the existing shard maps. shard_number 0 becomes the number of
// Normal storage nodes. Every registered Listener storage node also gets
// one replica of every shard, in state Listener, besides the counted ones.
// With fewer Normal nodes than the replication factor each shard gets one
// replica per node and a warning is logged; the stored replication factor
// stays as asked, for the controller to complete when nodes join.
func (s *Service) plan(name string, want *shoalv1.CollectionConfig, nodes []*shoalv1.Node, maps []*shoalv1.ShardMap) (*shoalv1.Collection, *shoalv1.ShardMap, error) {
	ids := placementNodes(nodes)
	if len(ids) == 0 {
		return nil, nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("no storage node is registered: cannot place the shards of collection `%s`; start storage nodes first", name))
	}
	cfg := proto.Clone(want).(*shoalv1.CollectionConfig)
	if cfg.ShardingMethod == shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM {
		// No shards until shard keys are created; shard_number is the
		// default number of shards per key (1 unless given).
		cfg.ShardNumber = max(cfg.ShardNumber, 1)
		uid := uuid.NewString()
		coll := &shoalv1.Collection{Name: name, Uid: uid, Config: cfg, CreatedUnixMs: time.Now().UnixMilli()}
		return coll, &shoalv1.ShardMap{Collection: name, Uid: uid, Epoch: 1}, nil
	}
	if cfg.ShardNumber == 0 {
		cfg.ShardNumber = uint32(min(len(ids), MaxShards))
	}
	perShard := min(cfg.ReplicationFactor, uint32(len(ids)))
	if perShard < cfg.ReplicationFactor {
		s.log.Warn().Str("collection", name).Uint32("replication_factor", cfg.ReplicationFactor).Int("storage_nodes", len(ids)).
			Msg("fewer storage nodes than the replication factor; placing one replica per node")
	}
	listeners := listenerNodes(nodes)
	if total := uint64(cfg.ShardNumber) * uint64(perShard+uint32(len(listeners))); total > MaxReplicas {
		return nil, nil, connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("Wrong input: shard_number × (replication_factor + listener nodes) = %d replicas, at most %d are supported", total, MaxReplicas))
	}
	uid := uuid.NewString()
	coll := &shoalv1.Collection{Name: name, Uid: uid, Config: cfg, CreatedUnixMs: time.Now().UnixMilli()}
	shards := place(cfg.ShardNumber, perShard, ids, replicaLoad(maps))
	addListeners(shards, listeners)
	m := &shoalv1.ShardMap{Collection: name, Uid: uid, Epoch: 1, Shards: shards}
	return coll, m, nil
}

// sameConfig reports, as an AlreadyExists error, whether a create request
// differs from the stored configuration. A request that left shard_number
// at 0 accepts the stored number, since the default depends on how many
// storage nodes were registered at the time.
func sameConfig(name string, want, have *shoalv1.CollectionConfig) error {
	w := want
	if w.ShardNumber == 0 && w.ShardingMethod == shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM {
		w = proto.Clone(want).(*shoalv1.CollectionConfig)
		w.ShardNumber = 1
	} else if w.ShardNumber == 0 {
		w = proto.Clone(want).(*shoalv1.CollectionConfig)
		w.ShardNumber = have.GetShardNumber()
	}
	if proto.Equal(w, have) {
		return nil
	}
	return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("Wrong input: Collection `%s` already exists!", name))
}

// withDefaultDeadline gives ctx a deadline d from now unless it has one.
func withDefaultDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// storeError maps an etcd error to a Connect error: the request's own
// deadline or cancellation, or Unavailable for the meta store.
func storeError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("%w (%v)", ctxErr, err)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("%s: %w", op, err))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, fmt.Errorf("%s: %w", op, err))
	default:
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s: meta store: %w", op, err))
	}
}
