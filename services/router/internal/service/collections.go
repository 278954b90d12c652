package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// MaxVectorSize is Qdrant's largest dense vector dimension.
const MaxVectorSize = 65536

// VectorParams is one vector's configuration in a create request.
type VectorParams struct {
	Size     uint64
	Distance shoalv1.Distance
	// Options are the other per-vector fields (on_disk, hnsw_config,
	// datatype, quantization_config, …) as a JSON object, kept verbatim; nil
	// for none.
	Options json.RawMessage
}

// CreateCollectionRequest creates a collection. Nil pointers take the
// defaults, which meta applies (so that every router agrees and an
// identical retry matches the stored collection): shard_number = the
// number of storage nodes, replication_factor and write_consistency_factor
// from meta's storage.collection.* configuration; on_disk_payload from the
// router's storage.on_disk_payload.
type CreateCollectionRequest struct {
	Name string
	// Vectors maps names to parameters; a single unnamed vector is "".
	Vectors map[string]VectorParams
	// Named is true when the request gave a map of named vectors.
	Named                  bool
	ShardNumber            *uint32
	ReplicationFactor      *uint32
	WriteConsistencyFactor *uint32
	OnDiskPayload          *bool
	// Extra holds the other known fields (see ExtraFields) as given.
	Extra map[string]json.RawMessage
}

// CreateCollection validates the request, fills in defaults and asks meta
// to create the collection. It returns once the local state shows the
// collection (so that the next request routes to it) and its replicas have
// left Initializing, or SettleTimeout passed (logged; the collection
// exists either way). Re-creating a collection with an identical
// configuration succeeds (meta makes creation idempotent so that a timed
// out call can be retried); a different configuration is a Conflict.
func (s *Service) CreateCollection(ctx context.Context, req CreateCollectionRequest) error {
	cfg, err := s.collectionConfig(req)
	if err != nil {
		return err
	}
	var resp *shoalv1.CreateCollectionResponse
	err = s.callMeta(ctx, "create collection", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.CreateCollection(ctx, connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: req.Name, Config: cfg}))
		if err == nil {
			resp = r.Msg
		}
		return err
	})
	if apierr.KindOf(err) == apierr.Conflict {
		return apierr.Exists("Collection `%s` already exists!", req.Name)
	}
	if err != nil {
		return err
	}
	uid := resp.GetCollection().GetUid()
	s.settle(ctx, "create", req.Name, func() bool { return s.settled(req.Name, uid) })
	return nil
}

// settle waits (at most SettleTimeout) for cond on the local state and
// logs when it does not come.
func (s *Service) settle(ctx context.Context, op, name string, cond func() bool) {
	wctx, cancel := context.WithTimeout(ctx, s.opt.SettleTimeout)
	defer cancel()
	if err := s.waitFor(wctx, cond); err != nil {
		s.opt.Log.Warn().Err(err).Str("collection", name).Str("op", op).Msg("cluster state did not settle; answering anyway")
	}
}

// collectionConfig validates a create request and builds the catalog
// configuration with defaults filled in.
func (s *Service) collectionConfig(req CreateCollectionRequest) (*shoalv1.CollectionConfig, error) {
	if err := checkName(req.Name); err != nil {
		return nil, err
	}
	cfg := &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{}, Named: req.Named}
	options := map[string]json.RawMessage{}
	for name, p := range req.Vectors {
		field := "vectors"
		if req.Named {
			field = "vectors." + name
		}
		switch {
		case p.Size < 1:
			return nil, apierr.Invalid(field+".size", "value %d invalid, must be 1 or larger", p.Size)
		case p.Size > MaxVectorSize:
			return nil, apierr.Invalid(field+".size", "value %d invalid, must be %d or smaller", p.Size, MaxVectorSize)
		case p.Distance == shoalv1.Distance_DISTANCE_UNSPECIFIED:
			return nil, apierr.Format("%s: missing field `distance`", field)
		}
		if !isNull(p.Options) {
			var opts map[string]json.RawMessage
			if err := json.Unmarshal(p.Options, &opts); err != nil {
				return nil, apierr.Format("%s: %v", field, err)
			}
			if !isNull(opts["multivector_config"]) {
				return nil, apierr.Unsupported("multivector_config")
			}
			options[name] = compact(p.Options)
		}
		cfg.Vectors[name] = &shoalv1.VectorParams{Size: p.Size, Distance: p.Distance}
	}
	if len(cfg.Vectors) == 0 {
		return nil, apierr.Invalid("vectors", "at least one vector must be configured")
	}
	// 0 asks meta for its default; an explicit 0 is out of range.
	positive := func(field string, v *uint32) (uint32, error) {
		if v == nil {
			return 0, nil
		}
		if *v < 1 {
			return 0, apierr.Invalid(field, "value %d invalid, must be 1 or larger", *v)
		}
		return *v, nil
	}
	var err error
	if cfg.ShardNumber, err = positive("shard_number", req.ShardNumber); err != nil {
		return nil, err
	}
	if cfg.ReplicationFactor, err = positive("replication_factor", req.ReplicationFactor); err != nil {
		return nil, err
	}
	if cfg.WriteConsistencyFactor, err = positive("write_consistency_factor", req.WriteConsistencyFactor); err != nil {
		return nil, err
	}
	cfg.OnDiskPayload = s.opt.Defaults.OnDiskPayload
	if req.OnDiskPayload != nil {
		cfg.OnDiskPayload = *req.OnDiskPayload
	}
	if _, _, _, err := decodeExtras(req.Extra); err != nil {
		return nil, err
	}
	if m, ok := req.Extra["sharding_method"]; ok && string(bytes.TrimSpace(m)) == `"custom"` {
		cfg.ShardingMethod = shoalv1.ShardingMethod_SHARDING_METHOD_CUSTOM
	}
	extra := map[string]json.RawMessage{}
	for k, v := range req.Extra {
		if !isNull(v) {
			extra[k] = compact(v)
		}
	}
	if len(options) > 0 {
		b, _ := json.Marshal(options)
		extra[VectorOptionsKey] = b
	}
	if len(extra) > 0 {
		b, err := json.Marshal(extra)
		if err != nil {
			return nil, apierr.Format("%v", err)
		}
		cfg.ExtraJson = b
	}
	return cfg, nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// DeleteCollection asks meta to delete a collection. It returns false when
// there was none. After a deletion it waits (at most SettleTimeout) until
// the local state no longer shows it.
func (s *Service) DeleteCollection(ctx context.Context, name string) (bool, error) {
	before, _, _ := s.opt.State.Collection(name)
	var deleted bool
	err := s.callMeta(ctx, "delete collection", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.DeleteCollection(ctx, connect.NewRequest(&shoalv1.DeleteCollectionRequest{Name: name}))
		if err == nil {
			deleted = r.Msg.GetDeleted()
		}
		return err
	})
	var typed *apierr.Error
	if errors.As(err, &typed) && typed.Kind == apierr.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if deleted || before != nil {
		s.settle(ctx, "delete", name, func() bool {
			c, _, ok := s.opt.State.Collection(name)
			return !ok || (before != nil && c.GetUid() != before.GetUid())
		})
		// The collection's aliases went in the same transaction: wait until
		// the alias table no longer names it.
		if s.opt.Aliases != nil {
			s.settleAliases(ctx, name)
		}
	}
	return deleted, nil
}

// ListCollections returns the names of every collection, sorted.
func (s *Service) ListCollections() []string {
	cs := s.opt.State.Collections()
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.GetName()
	}
	return out
}

// CollectionExists reports whether a collection (or an alias of one)
// exists.
func (s *Service) CollectionExists(name string) bool {
	_, _, ok := s.opt.State.Collection(s.resolveName(name))
	return ok
}

// CollectionInfo describes a collection as GET /collections/{name} does.
type CollectionInfo struct {
	// Status is "green" when every replica is ACTIVE (or a LISTENER) and
	// every shard answered, "yellow" when some replica is in another state
	// (Dead, Partial, Recovery, Initializing) but every shard answered,
	// "red" when some shard could not be read (no ACTIVE replica answered).
	Status string
	// PointsCount is the sum of the shard counts that could be read
	// (partial when Status is "red").
	PointsCount         uint64
	IndexedVectorsCount uint64
	SegmentsCount       int
	Config              ConfigView
	// PayloadSchema describes the payload indexes by field, merged over
	// the shards (points summed).
	PayloadSchema map[string]PayloadIndexInfo
}

// PayloadIndexInfo is one payload index as collection info shows it.
type PayloadIndexInfo struct {
	// DataType is Qdrant's PayloadSchemaType (keyword, integer, …).
	DataType string
	// Params are the index parameters (a JSON object), or nil.
	Params json.RawMessage
	// Points is how many points the index holds.
	Points uint64
}

// GetCollection returns a collection's description. Counts and the payload
// schema come from every shard's Info; an unavailable shard shows in
// Status rather than failing the call. Storage nodes that do not serve
// Info yet (Unimplemented) are counted with Count instead.
func (s *Service) GetCollection(ctx context.Context, name string) (CollectionInfo, error) {
	c, err := s.resolve(name)
	if err != nil {
		return CollectionInfo{}, err
	}
	info := CollectionInfo{Status: "green", Config: View(c.Meta.GetConfig()), PayloadSchema: map[string]PayloadIndexInfo{}}
	for _, sh := range c.Map.GetShards() {
		for _, rep := range sh.GetReplicas() {
			st := rep.GetState()
			if st != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE && st != shoalv1.ReplicaState_REPLICA_STATE_LISTENER {
				info.Status = "yellow"
			}
		}
	}
	legacy := false
	for _, si := range s.opt.Router.InfoEach(ctx, c) {
		switch {
		case connect.CodeOf(si.Err) == connect.CodeUnimplemented:
			legacy = true
		case si.Err != nil:
			info.Status = "red"
			s.opt.Log.Debug().Err(si.Err).Str("collection", name).Uint32("shard", si.Shard).Msg("shard info for collection info")
		default:
			info.PointsCount += si.Info.GetPoints()
			info.IndexedVectorsCount += si.Info.GetIndexedVectors()
			info.SegmentsCount += int(si.Info.GetSegments())
			mergeSchema(info.PayloadSchema, si.Info.GetPayloadSchemaJson())
		}
	}
	if legacy {
		info.PointsCount, info.IndexedVectorsCount, info.SegmentsCount = 0, 0, len(c.Map.GetShards())
		for _, sc := range s.opt.Router.CountEach(ctx, c, nil) {
			if sc.Err != nil {
				info.Status = "red"
				continue
			}
			info.PointsCount += sc.Count
		}
	}
	return info, nil
}

// mergeSchema adds one shard's payload_schema JSON to the merged schema.
// A shard's schema that does not decode is skipped: the collection info
// stays readable.
func mergeSchema(into map[string]PayloadIndexInfo, raw []byte) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return
	}
	var shard map[string]struct {
		DataType string          `json:"data_type"`
		Params   json.RawMessage `json:"params"`
		Points   uint64          `json:"points"`
	}
	if json.Unmarshal(raw, &shard) != nil {
		return
	}
	for field, ix := range shard {
		cur, ok := into[field]
		if !ok {
			cur = PayloadIndexInfo{DataType: ix.DataType}
			if !isNull(ix.Params) {
				cur.Params = ix.Params
			}
		}
		cur.Points += ix.Points
		into[field] = cur
	}
}

// settleAliases waits (at most SettleTimeout) until no alias names
// collection in the alias table.
func (s *Service) settleAliases(ctx context.Context, collection string) {
	wctx, cancel := context.WithTimeout(ctx, s.opt.SettleTimeout)
	defer cancel()
	for {
		ch := s.opt.Aliases.Changed()
		named := false
		for _, c := range s.opt.Aliases.All() {
			named = named || c == collection
		}
		if !named {
			return
		}
		select {
		case <-wctx.Done():
			s.opt.Log.Warn().Str("collection", collection).Msg("alias table still names a deleted collection; answering anyway")
			return
		case <-ch:
		}
	}
}
