package catalog

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// KeyString renders a shard key as Qdrant prints it in messages: a
// keyword quoted, a number as is.
func KeyString(k *shoalv1.ShardKey) string {
	if kw, ok := k.GetKey().(*shoalv1.ShardKey_Keyword); ok {
		return strconv.Quote(kw.Keyword)
	}
	return strconv.FormatUint(k.GetNumber(), 10)
}

// SameKey reports whether two shard keys are equal (a keyword never
// equals a number).
func SameKey(a, b *shoalv1.ShardKey) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return proto.Equal(a, b)
}

func validKey(k *shoalv1.ShardKey) error {
	switch v := k.GetKey().(type) {
	case *shoalv1.ShardKey_Keyword:
		if v.Keyword == "" {
			return fmt.Errorf("Validation error in JSON body: [shard_key: must not be empty]")
		}
		return nil
	case *shoalv1.ShardKey_Number:
		return nil
	}
	return fmt.Errorf("Validation error in JSON body: [shard_key: a keyword or a number is required]")
}

// keySnapshot is what a shard key change reads in one transaction.
type keySnapshot struct {
	coll   *shoalv1.Collection
	m      *shoalv1.ShardMap
	modRev int64
	nodes  []*shoalv1.Node
	maps   []*shoalv1.ShardMap
}

// readForKeys reads the collection, its shard map (with its mod revision),
// the registered nodes and every shard map. The collection must exist and
// use custom sharding.
func (s *Service) readForKeys(ctx context.Context, name string) (*keySnapshot, error) {
	snap, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(cluster.CollectionKey(name)),
		clientv3.OpGet(cluster.ShardMapKey(name)),
		clientv3.OpGet(cluster.NodesPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(cluster.ShardMapsPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(cluster.PeersPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, storeError(ctx, "read catalog", err)
	}
	collKvs, mapKvs := snap.Responses[0].GetResponseRange().GetKvs(), snap.Responses[1].GetResponseRange().GetKvs()
	if len(collKvs) == 0 || len(mapKvs) == 0 {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Not found: Collection `%s` doesn't exist!", name))
	}
	ks := &keySnapshot{coll: &shoalv1.Collection{}, m: &shoalv1.ShardMap{}, modRev: mapKvs[0].ModRevision}
	if err := proto.Unmarshal(collKvs[0].Value, ks.coll); err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("decode collection %s: %w", name, err))
	}
	if err := proto.Unmarshal(mapKvs[0].Value, ks.m); err != nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("decode shard map %s: %w", name, err))
	}
	if ks.coll.GetConfig().GetShardingMethod() != shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM {
		return nil, connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("Bad request: Shard keys are only available for collections with sharding_method `custom`; collection `%s` uses `auto`", name))
	}
	for _, kv := range snap.Responses[2].GetResponseRange().GetKvs() {
		n := &shoalv1.Node{}
		if err := proto.Unmarshal(kv.Value, n); err == nil {
			ks.nodes = append(ks.nodes, n)
		}
	}
	ks.nodes = placeable(ks.nodes, cluster.DecodePeerMarks(snap.Responses[4].GetResponseRange().GetKvs()))
	for _, kv := range snap.Responses[3].GetResponseRange().GetKvs() {
		m := &shoalv1.ShardMap{}
		if err := proto.Unmarshal(kv.Value, m); err == nil {
			ks.maps = append(ks.maps, m)
		}
	}
	return ks, nil
}

// hasKey reports whether m has a shard of key k.
func hasKey(m *shoalv1.ShardMap, k *shoalv1.ShardKey) bool {
	for _, sh := range m.GetShards() {
		if SameKey(sh.GetKey(), k) {
			return true
		}
	}
	return false
}

// casMap writes next in place of the shard map read at modRev; false when
// the map changed meanwhile.
func (s *Service) casMap(ctx context.Context, name string, modRev int64, next *shoalv1.ShardMap) (bool, int64, error) {
	val, err := proto.Marshal(next)
	if err != nil {
		return false, 0, connect.NewError(connect.CodeInternal, fmt.Errorf("encode shard map: %w", err))
	}
	key := cluster.ShardMapKey(name)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
		Then(clientv3.OpPut(key, string(val))).
		Commit()
	if err != nil {
		return false, 0, storeError(ctx, "update shard map "+name, err)
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

// CreateShardKey places shards_number new shards for a shard key of a
// custom-sharded collection, with replication_factor replicas each on the
// least loaded Normal storage nodes (only those in placement when it is
// given), Initializing with the first replica primary at term 1, and
// waits until the storage nodes hold them to mark them Active, as
// collection creation does. The new shards take the next unused shard
// ids of the collection.
func (s *Service) CreateShardKey(ctx context.Context, req *connect.Request[shoalv1.CreateShardKeyRequest]) (*connect.Response[shoalv1.CreateShardKeyResponse], error) {
	name, key := req.Msg.GetCollection(), req.Msg.GetKey()
	if err := ValidateName(name); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if err := validKey(key); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if err := checkInitialState(req.Msg.GetInitialState()); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if req.Msg.GetShardsNumber() > MaxShards {
		return nil, connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("Validation error in JSON body: [shards_number: value %d invalid, must be from 1 to %d]", req.Msg.GetShardsNumber(), MaxShards))
	}
	ctx, cancel := withDefaultDeadline(ctx, DefaultTimeout)
	defer cancel()
	var coll *shoalv1.Collection
	for {
		ks, err := s.readForKeys(ctx, name)
		if err != nil {
			return nil, err
		}
		if hasKey(ks.m, key) {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: Shard key %s already exists", KeyString(key)))
		}
		next, err := s.planKey(ks, req.Msg)
		if err != nil {
			return nil, err
		}
		ok, rev, err := s.casMap(ctx, name, ks.modRev, next)
		if err != nil {
			return nil, err
		}
		if ok {
			s.log.Info().Str("collection", name).Str("shard_key", KeyString(key)).Int("shards", len(next.Shards)-len(ks.m.Shards)).
				Int64("revision", rev).Msg("shard key created")
			coll = ks.coll
			break
		}
		// The map changed since the read (another key, the controller): again.
	}
	waitCtx, cancelWait := waitContext(ctx)
	defer cancelWait()
	m, err := s.activate(waitCtx, coll)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&shoalv1.CreateShardKeyResponse{ShardMap: m}), nil
}

// planKey returns the shard map with the new key's shards added.
func (s *Service) planKey(ks *keySnapshot, req *shoalv1.CreateShardKeyRequest) (*shoalv1.ShardMap, error) {
	cfg := ks.coll.GetConfig()
	ids := placementNodes(ks.nodes)
	if len(req.GetPlacement()) > 0 {
		var chosen []uint64
		for _, p := range req.GetPlacement() {
			if !slices.Contains(ids, p) {
				return nil, connect.NewError(connect.CodeInvalidArgument,
					fmt.Errorf("Bad request: placement: peer %d is not a registered storage node of type Normal", p))
			}
			if !slices.Contains(chosen, p) {
				chosen = append(chosen, p)
			}
		}
		slices.Sort(chosen)
		ids = chosen
	}
	if len(ids) == 0 {
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("no storage node is registered: cannot place the shards of shard key %s; start storage nodes first", KeyString(req.GetKey())))
	}
	shards := req.GetShardsNumber()
	if shards == 0 {
		shards = max(cfg.GetShardNumber(), 1)
	}
	rf := req.GetReplicationFactor()
	if rf == 0 {
		rf = max(cfg.GetReplicationFactor(), 1)
	}
	perShard := min(rf, uint32(len(ids)))
	listeners := listenerNodes(ks.nodes)
	total := uint64(len(ks.m.GetShards())) + uint64(shards)
	if total*uint64(perShard+uint32(len(listeners))) > MaxReplicas {
		return nil, connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("Wrong input: the collection would have more than %d replicas", MaxReplicas))
	}
	first := ks.m.GetNextShardId()
	for _, sh := range ks.m.GetShards() {
		first = max(first, sh.GetId()+1)
	}
	placed := placeFrom(first, shards, perShard, ids, replicaLoad(ks.maps))
	addListeners(placed, listeners)
	for _, sh := range placed {
		sh.Key = proto.Clone(req.GetKey()).(*shoalv1.ShardKey)
		applyInitialState(sh, req.GetInitialState())
		if rf != cfg.GetReplicationFactor() {
			sh.ReplicationFactor = rf
		}
	}
	next := proto.Clone(ks.m).(*shoalv1.ShardMap)
	next.Shards = append(next.Shards, placed...)
	next.NextShardId = first + shards
	next.Epoch++
	return next, nil
}

// DeleteShardKey removes every shard of a shard key from the collection's
// shard map; the storage nodes drop the replicas the map no longer places.
// An unknown key is InvalidArgument, as Qdrant answers.
func (s *Service) DeleteShardKey(ctx context.Context, req *connect.Request[shoalv1.DeleteShardKeyRequest]) (*connect.Response[shoalv1.DeleteShardKeyResponse], error) {
	name, key := req.Msg.GetCollection(), req.Msg.GetKey()
	if err := ValidateName(name); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if err := validKey(key); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	for {
		ks, err := s.readForKeys(ctx, name)
		if err != nil {
			return nil, err
		}
		if !hasKey(ks.m, key) {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: Shard key %s does not exist", KeyString(key)))
		}
		next := proto.Clone(ks.m).(*shoalv1.ShardMap)
		next.Shards = slices.DeleteFunc(next.Shards, func(sh *shoalv1.Shard) bool { return SameKey(sh.GetKey(), key) })
		for _, sh := range ks.m.GetShards() {
			next.NextShardId = max(next.NextShardId, sh.GetId()+1)
		}
		next.Epoch++
		ok, rev, err := s.casMap(ctx, name, ks.modRev, next)
		if err != nil {
			return nil, err
		}
		if ok {
			s.log.Info().Str("collection", name).Str("shard_key", KeyString(key)).Int64("revision", rev).Msg("shard key deleted")
			return connect.NewResponse(&shoalv1.DeleteShardKeyResponse{Revision: rev}), nil
		}
	}
}
