package grpcapi

import (
	"encoding/json"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Collection requests and descriptions between the gRPC messages and the
// service's types. Configuration diffs become the REST JSON the service
// keeps (see messageToMap), so both APIs store the same thing.

var distances = map[qdrant.Distance]shoalv1.Distance{
	qdrant.Distance_Cosine:    shoalv1.Distance_DISTANCE_COSINE,
	qdrant.Distance_Euclid:    shoalv1.Distance_DISTANCE_EUCLID,
	qdrant.Distance_Dot:       shoalv1.Distance_DISTANCE_DOT,
	qdrant.Distance_Manhattan: shoalv1.Distance_DISTANCE_MANHATTAN,
}

func jsonOf(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// createCollection converts CreateCollection.
func createCollection(req *qdrant.CreateCollection) (service.CreateCollectionRequest, error) {
	out := service.CreateCollectionRequest{
		Name: req.GetCollectionName(), Vectors: map[string]service.VectorParams{}, Extra: map[string]json.RawMessage{},
		ShardNumber: req.ShardNumber, ReplicationFactor: req.ReplicationFactor, WriteConsistencyFactor: req.WriteConsistencyFactor,
		OnDiskPayload: req.OnDiskPayload,
	}
	switch k := req.GetVectorsConfig().GetConfig().(type) {
	case *qdrant.VectorsConfig_Params:
		p, err := vectorParams(k.Params, "vectors")
		if err != nil {
			return out, err
		}
		out.Vectors[""] = p
	case *qdrant.VectorsConfig_ParamsMap:
		out.Named = true
		for name, vp := range k.ParamsMap.GetMap() {
			p, err := vectorParams(vp, "vectors."+name)
			if err != nil {
				return out, err
			}
			out.Vectors[name] = p
		}
	}
	if len(req.GetSparseVectorsConfig().GetMap()) > 0 {
		return out, apierr.Unsupported("sparse vectors")
	}
	if req.ShardingMethod != nil && req.GetShardingMethod() == qdrant.ShardingMethod_Custom {
		out.Extra["sharding_method"] = jsonOf("custom")
	}
	if h := req.GetHnswConfig(); h != nil {
		out.Extra["hnsw_config"] = jsonOf(messageToMap(h.ProtoReflect()))
	}
	if w := req.GetWalConfig(); w != nil {
		out.Extra["wal_config"] = jsonOf(messageToMap(w.ProtoReflect()))
	}
	if o := req.GetOptimizersConfig(); o != nil {
		out.Extra["optimizers_config"] = jsonOf(optimizersMap(o))
	}
	if q := req.GetQuantizationConfig(); q != nil {
		out.Extra["quantization_config"] = jsonOf(messageToMap(q.ProtoReflect()))
	}
	if sm := req.GetStrictModeConfig(); sm != nil {
		out.Extra["strict_mode_config"] = jsonOf(messageToMap(sm.ProtoReflect()))
	}
	if md := req.GetMetadata(); len(md) > 0 {
		b, err := payloadToJSON(md)
		if err != nil {
			return out, err
		}
		out.Extra["metadata"] = b
	}
	return out, nil
}

// vectorParams converts one VectorParams; the options other than size and
// distance keep their REST shape.
func vectorParams(p *qdrant.VectorParams, field string) (service.VectorParams, error) {
	d, ok := distances[p.GetDistance()]
	if !ok {
		return service.VectorParams{}, apierr.Format("%s.distance: unknown distance %s", field, p.GetDistance())
	}
	opts := messageToMap(p.ProtoReflect())
	delete(opts, "size")
	delete(opts, "distance")
	if opts["datatype"] == "default" {
		delete(opts, "datatype")
	}
	out := service.VectorParams{Size: p.GetSize(), Distance: d}
	if len(opts) > 0 {
		out.Options = jsonOf(opts)
	}
	return out, nil
}

// optimizersMap renders an OptimizersConfigDiff; max_optimization_threads
// is a number (auto: left out) and the deprecated field is folded into it.
func optimizersMap(o *qdrant.OptimizersConfigDiff) map[string]any {
	m := messageToMap(o.ProtoReflect())
	delete(m, "max_optimization_threads")
	delete(m, "deprecated_max_optimization_threads")
	if o.DeprecatedMaxOptimizationThreads != nil {
		m["max_optimization_threads"] = o.GetDeprecatedMaxOptimizationThreads()
	}
	if v, ok := o.GetMaxOptimizationThreads().GetVariant().(*qdrant.MaxOptimizationThreads_Value); ok {
		m["max_optimization_threads"] = v.Value
	}
	return m
}

// quantizationDiff renders a QuantizationConfigDiff: "Disabled", or the
// quantization's REST object.
func quantizationDiff(q *qdrant.QuantizationConfigDiff) json.RawMessage {
	if _, ok := q.GetQuantization().(*qdrant.QuantizationConfigDiff_Disabled); ok {
		return jsonOf("Disabled")
	}
	return jsonOf(messageToMap(q.ProtoReflect()))
}

// updateCollection converts UpdateCollection.
func updateCollection(req *qdrant.UpdateCollection) (service.UpdateCollectionRequest, error) {
	out := service.UpdateCollectionRequest{Name: req.GetCollectionName(), Extra: map[string]json.RawMessage{}}
	if len(req.GetSparseVectorsConfig().GetMap()) > 0 {
		return out, apierr.Unsupported("sparse vectors")
	}
	if o := req.GetOptimizersConfig(); o != nil {
		out.Extra["optimizers_config"] = jsonOf(optimizersMap(o))
	}
	if h := req.GetHnswConfig(); h != nil {
		out.Extra["hnsw_config"] = jsonOf(messageToMap(h.ProtoReflect()))
	}
	if q := req.GetQuantizationConfig(); q != nil {
		out.Extra["quantization_config"] = quantizationDiff(q)
	}
	if sm := req.GetStrictModeConfig(); sm != nil {
		out.Extra["strict_mode_config"] = jsonOf(messageToMap(sm.ProtoReflect()))
	}
	if md := req.GetMetadata(); len(md) > 0 {
		b, err := payloadToJSON(md)
		if err != nil {
			return out, err
		}
		out.Extra["metadata"] = b
	}
	if p := req.GetParams(); p != nil {
		out.ReplicationFactor, out.WriteConsistencyFactor, out.OnDiskPayload = p.ReplicationFactor, p.WriteConsistencyFactor, p.OnDiskPayload
	}
	diff := func(d *qdrant.VectorParamsDiff) json.RawMessage {
		m := messageToMap(d.ProtoReflect())
		if q := d.GetQuantizationConfig(); q != nil {
			m["quantization_config"] = quantizationDiff(q)
		}
		return jsonOf(m)
	}
	switch k := req.GetVectorsConfig().GetConfig().(type) {
	case *qdrant.VectorsConfigDiff_Params:
		out.Vectors = map[string]json.RawMessage{"": diff(k.Params)}
	case *qdrant.VectorsConfigDiff_ParamsMap:
		out.Vectors = map[string]json.RawMessage{}
		for name, d := range k.ParamsMap.GetMap() {
			out.Vectors[name] = diff(d)
		}
	}
	return out, nil
}

var statuses = map[string]qdrant.CollectionStatus{
	"green": qdrant.CollectionStatus_Green, "yellow": qdrant.CollectionStatus_Yellow, "red": qdrant.CollectionStatus_Red, "grey": qdrant.CollectionStatus_Grey,
}

var schemaTypes = map[string]qdrant.PayloadSchemaType{
	"keyword": qdrant.PayloadSchemaType_Keyword, "integer": qdrant.PayloadSchemaType_Integer, "float": qdrant.PayloadSchemaType_Float,
	"geo": qdrant.PayloadSchemaType_Geo, "text": qdrant.PayloadSchemaType_Text, "bool": qdrant.PayloadSchemaType_Bool,
	"datetime": qdrant.PayloadSchemaType_Datetime, "uuid": qdrant.PayloadSchemaType_Uuid,
}

// collectionInfo converts a collection's description.
func collectionInfo(info service.CollectionInfo) *qdrant.CollectionInfo {
	cfg := info.Config
	points, indexed := info.PointsCount, info.IndexedVectorsCount
	out := &qdrant.CollectionInfo{
		Status:          statuses[info.Status],
		OptimizerStatus: &qdrant.OptimizerStatus{Ok: true},
		SegmentsCount:   uint64(info.SegmentsCount),
		PointsCount:     &points, IndexedVectorsCount: &indexed,
		PayloadSchema: map[string]*qdrant.PayloadSchemaInfo{},
	}
	for field, ix := range info.PayloadSchema {
		n := ix.Points
		out.PayloadSchema[field] = &qdrant.PayloadSchemaInfo{DataType: schemaTypes[ix.DataType], Points: &n}
	}
	rf, wcf := cfg.ReplicationFactor, cfg.WriteConsistencyFactor
	params := &qdrant.CollectionParams{ShardNumber: cfg.ShardNumber, OnDiskPayload: cfg.OnDiskPayload, ReplicationFactor: &rf, WriteConsistencyFactor: &wcf}
	if string(cfg.Extra["sharding_method"]) == `"custom"` {
		custom := qdrant.ShardingMethod_Custom
		params.ShardingMethod = &custom
	}
	if cfg.Named {
		m := map[string]*qdrant.VectorParams{}
		for name, p := range cfg.Vectors {
			m[name] = vectorParamsOut(p)
		}
		params.VectorsConfig = qdrant.NewVectorsConfigMap(m)
	} else {
		params.VectorsConfig = qdrant.NewVectorsConfig(vectorParamsOut(cfg.Vectors[""]))
	}
	h, o, w := cfg.Hnsw, cfg.Optimizers, cfg.Wal
	u := func(v int) *uint64 { x := uint64(max(v, 0)); return &x }
	up := func(v *int) *uint64 {
		if v == nil {
			return nil
		}
		return u(*v)
	}
	opt := &qdrant.OptimizersConfigDiff{
		DeletedThreshold: &o.DeletedThreshold, VacuumMinVectorNumber: u(o.VacuumMinVectorNumber), DefaultSegmentNumber: u(o.DefaultSegmentNumber),
		MaxSegmentSize: up(o.MaxSegmentSize), MemmapThreshold: up(o.MemmapThreshold), IndexingThreshold: up(o.IndexingThreshold),
		FlushIntervalSec: u(o.FlushIntervalSec), MaxOptimizationThreads: &qdrant.MaxOptimizationThreads{Variant: &qdrant.MaxOptimizationThreads_Setting_{Setting: qdrant.MaxOptimizationThreads_Auto}},
	}
	if o.MaxOptimizationThreads != nil {
		opt.MaxOptimizationThreads = &qdrant.MaxOptimizationThreads{Variant: &qdrant.MaxOptimizationThreads_Value{Value: uint64(max(*o.MaxOptimizationThreads, 0))}}
	}
	out.Config = &qdrant.CollectionConfig{
		Params: params,
		HnswConfig: &qdrant.HnswConfigDiff{
			M: u(h.M), EfConstruct: u(h.EfConstruct), FullScanThreshold: u(h.FullScanThreshold), MaxIndexingThreads: u(h.MaxIndexingThreads),
			OnDisk: h.OnDisk, PayloadM: up(h.PayloadM), InlineStorage: h.InlineStorage,
		},
		OptimizerConfig:  opt,
		WalConfig:        &qdrant.WalConfigDiff{WalCapacityMb: u(w.WalCapacityMB), WalSegmentsAhead: u(w.WalSegmentsAhead), WalRetainClosed: u(w.WalRetainClosed)},
		StrictModeConfig: &qdrant.StrictModeConfig{Enabled: proto.Bool(false)},
	}
	if raw, ok := cfg.Extra["strict_mode_config"]; ok {
		sm := &qdrant.StrictModeConfig{}
		if fromJSON(raw, sm) == nil {
			out.Config.StrictModeConfig = sm
		}
	}
	if raw, ok := cfg.Extra["metadata"]; ok {
		out.Config.Metadata = payloadFromJSON(raw)
	}
	return out
}

// vectorParamsOut renders one vector's parameters with the options that
// map onto gRPC fields (on_disk, hnsw_config, datatype).
func vectorParamsOut(p service.VectorParamsView) *qdrant.VectorParams {
	out := &qdrant.VectorParams{Size: p.Size}
	for qd, sd := range distances {
		if sd == p.Distance {
			out.Distance = qd
		}
	}
	var opts struct {
		OnDisk     *bool           `json:"on_disk"`
		HnswConfig json.RawMessage `json:"hnsw_config"`
		Datatype   string          `json:"datatype"`
	}
	if len(p.Options) == 0 || json.Unmarshal(p.Options, &opts) != nil {
		return out
	}
	out.OnDisk = opts.OnDisk
	if len(opts.HnswConfig) > 0 {
		h := &qdrant.HnswConfigDiff{}
		if fromJSON(opts.HnswConfig, h) == nil {
			out.HnswConfig = h
		}
	}
	for name, v := range qdrant.Datatype_value {
		if opts.Datatype != "" && name != "Default" && strings.EqualFold(name, opts.Datatype) {
			dt := qdrant.Datatype(v)
			out.Datatype = &dt
		}
	}
	return out
}

// fromJSON decodes REST-shaped JSON into a gRPC message whose fields have
// the REST names and no enums.
func fromJSON(raw json.RawMessage, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(raw, m)
}

// aliasActions converts ChangeAliases.
func aliasActions(req *qdrant.ChangeAliases) ([]service.AliasAction, error) {
	out := make([]service.AliasAction, len(req.GetActions()))
	for i, a := range req.GetActions() {
		switch k := a.GetAction().(type) {
		case *qdrant.AliasOperations_CreateAlias:
			out[i].Create = &service.AliasDescription{Alias: k.CreateAlias.GetAliasName(), Collection: k.CreateAlias.GetCollectionName()}
		case *qdrant.AliasOperations_DeleteAlias:
			name := k.DeleteAlias.GetAliasName()
			out[i].Delete = &name
		case *qdrant.AliasOperations_RenameAlias:
			out[i].Rename = &service.AliasRename{Old: k.RenameAlias.GetOldAliasName(), New: k.RenameAlias.GetNewAliasName()}
		default:
			return nil, apierr.Format("empty alias operation")
		}
	}
	return out, nil
}

func aliasDescriptions(list []service.AliasDescription) []*qdrant.AliasDescription {
	out := make([]*qdrant.AliasDescription, len(list))
	for i, a := range list {
		out[i] = &qdrant.AliasDescription{AliasName: a.Alias, CollectionName: a.Collection}
	}
	return out
}

var replicaStates = map[string]qdrant.ReplicaState{
	"Active": qdrant.ReplicaState_Active, "Dead": qdrant.ReplicaState_Dead, "Partial": qdrant.ReplicaState_Partial,
	"Initializing": qdrant.ReplicaState_Initializing, "Listener": qdrant.ReplicaState_Listener, "Recovery": qdrant.ReplicaState_Recovery,
}

func clusterInfo(info service.CollectionClusterInfo) *qdrant.CollectionClusterInfoResponse {
	out := &qdrant.CollectionClusterInfoResponse{PeerId: info.PeerID, ShardCount: uint64(info.ShardCount)}
	for _, r := range info.RemoteShards {
		rs := &qdrant.RemoteShardInfo{ShardId: r.ShardID, PeerId: r.PeerID, State: replicaStates[r.State]}
		if r.ShardKey != nil {
			rs.ShardKey = qdrantShardKey(r.ShardKey)
		}
		out.RemoteShards = append(out.RemoteShards, rs)
	}
	for _, t := range info.ShardTransfers {
		out.ShardTransfers = append(out.ShardTransfers, &qdrant.ShardTransferInfo{ShardId: t.ShardID, From: t.From, To: t.To, Sync: t.Sync})
	}
	return out
}
