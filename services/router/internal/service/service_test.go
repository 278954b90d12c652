package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/routing"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

type noConsensus struct{}

func (noConsensus) Status(context.Context) (service.RaftInfo, error) { return service.RaftInfo{}, nil }

// metaDialer serves fake://meta-down as an unreachable meta node and
// records which meta URIs were called.
type metaDialer struct {
	fc    *fake.Cluster
	calls []string
	wrap  func(shoalv1connect.MetaServiceClient) shoalv1connect.MetaServiceClient
}

type downMeta struct {
	shoalv1connect.MetaServiceClient
}

func (downMeta) CreateCollection(context.Context, *connect.Request[shoalv1.CreateCollectionRequest]) (*connect.Response[shoalv1.CreateCollectionResponse], error) {
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("connection refused"))
}

func (d *metaDialer) Meta(uri string) shoalv1connect.MetaServiceClient {
	d.calls = append(d.calls, uri)
	if uri == "fake://meta-down" {
		return downMeta{}
	}
	if d.wrap != nil {
		return d.wrap(d.fc.Meta(uri))
	}
	return d.fc.Meta(uri)
}

func newService(fc *fake.Cluster, meta service.MetaDialer) *service.Service {
	return service.New(service.Options{
		NodeID: 9, State: fc.State, Router: routing.New(fc.State, fc.Dialer(), nil), Meta: meta, Consensus: noConsensus{},
		Defaults: service.Defaults{OnDiskPayload: true}, Log: zerolog.Nop(),
	})
}

func TestCreateCollectionDefaultsAndExtras(t *testing.T) {
	fc := fake.NewCluster(3)
	svc := newService(fc, fc)
	err := svc.CreateCollection(context.Background(), service.CreateCollectionRequest{
		Name:              "c",
		Vectors:           map[string]service.VectorParams{"v": {Size: 8, Distance: shoalv1.Distance_DISTANCE_COSINE, Options: json.RawMessage(`{"on_disk": true}`)}},
		Named:             true,
		ReplicationFactor: u32(2),
		Extra:             map[string]json.RawMessage{"hnsw_config": json.RawMessage(`{ "m" : 8 }`), "metadata": json.RawMessage(`null`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, m, ok := fc.State.Collection("c")
	if !ok {
		t.Fatal("collection not in state when create returned")
	}
	cfg := c.Config
	if cfg.ShardNumber != 3 || cfg.ReplicationFactor != 2 || cfg.WriteConsistencyFactor != 1 || !cfg.OnDiskPayload || !cfg.Named || len(m.Shards) != 3 {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
	if got := string(cfg.ExtraJson); got != `{"hnsw_config":{"m":8},"vector_options":{"v":{"on_disk":true}}}` {
		t.Fatalf("extra_json %s", got)
	}
	view := service.View(cfg)
	if view.Hnsw.M != 8 || view.Hnsw.EfConstruct != 100 || string(view.Vectors["v"].Options) != `{"on_disk":true}` {
		t.Fatalf("view %+v", view)
	}
}

func u32(v uint32) *uint32 { return &v }

func TestCreateCollectionWaitsForReplicas(t *testing.T) {
	fc := fake.NewCluster(2)
	// Meta that leaves the new replicas Initializing, as a real controller
	// does until the storage nodes have opened them.
	d := &metaDialer{fc: fc, wrap: func(c shoalv1connect.MetaServiceClient) shoalv1connect.MetaServiceClient {
		return initializingMeta{c, fc}
	}}
	svc := newService(fc, d)
	done := make(chan error, 1)
	go func() {
		done <- svc.CreateCollection(context.Background(), service.CreateCollectionRequest{
			Name: "c", Vectors: map[string]service.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}},
		})
	}()
	for {
		ch := fc.State.Changed()
		if _, _, ok := fc.State.Collection("c"); ok {
			break
		}
		<-ch
	}
	select {
	case err := <-done:
		t.Fatalf("create returned while replicas were Initializing: %v", err)
	default:
	}
	for _, n := range []uint64{1, 2} {
		for s := uint32(0); s < 2; s++ {
			fc.State.SetReplicaState("c", s, n, shoalv1.ReplicaState_REPLICA_STATE_ACTIVE)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type initializingMeta struct {
	shoalv1connect.MetaServiceClient
	fc *fake.Cluster
}

func (m initializingMeta) CreateCollection(ctx context.Context, req *connect.Request[shoalv1.CreateCollectionRequest]) (*connect.Response[shoalv1.CreateCollectionResponse], error) {
	// Flip the replicas to Initializing in the same state update the
	// waiter sees: build the map first, then publish it.
	resp, err := m.MetaServiceClient.CreateCollection(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, sh := range resp.Msg.ShardMap.Shards {
		for _, r := range sh.Replicas {
			m.fc.State.SetReplicaState(req.Msg.Name, sh.Id, r.NodeId, shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING)
		}
	}
	return resp, nil
}

func TestMetaFailover(t *testing.T) {
	fc := fake.NewCluster(1)
	fc.State.PutNode(&shoalv1.Node{Id: 50, ApiUri: "fake://meta-down", Tier: shoalv1.NodeTier_NODE_TIER_META})
	d := &metaDialer{fc: fc}
	svc := newService(fc, d)
	req := service.CreateCollectionRequest{Name: "c", Vectors: map[string]service.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}}
	if err := svc.CreateCollection(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.calls, " ") != "fake://meta-down fake://meta" {
		t.Fatalf("meta calls %v", d.calls)
	}

	fc.State.DeleteNode(100)
	err := svc.CreateCollection(context.Background(), req)
	if apierr.KindOf(err) != apierr.Unavailable || !strings.Contains(err.Error(), "no meta node answered") {
		t.Fatalf("every meta node down: %v", err)
	}
	fc.State.DeleteNode(50)
	err = svc.CreateCollection(context.Background(), req)
	if apierr.KindOf(err) != apierr.Unavailable || !strings.Contains(err.Error(), "no meta node is registered") {
		t.Fatalf("no meta node: %v", err)
	}
}

func TestUpsertLastOccurrenceWins(t *testing.T) {
	fc := fake.NewCluster(2)
	svc := newService(fc, fc)
	ctx := context.Background()
	if err := svc.CreateCollection(ctx, service.CreateCollectionRequest{Name: "c", Vectors: map[string]service.VectorParams{"": {Size: 1, Distance: shoalv1.Distance_DISTANCE_DOT}}}); err != nil {
		t.Fatal(err)
	}
	id := pointid.Num(7)
	_, err := svc.Upsert(ctx, "c", service.UpsertRequest{Points: []service.PointInput{
		{ID: id, Vectors: map[string][]float32{"": {1}}, Payload: json.RawMessage(`{"v":1}`)},
		{ID: id, Vectors: map[string][]float32{"": {2}}, Payload: json.RawMessage(`{"v":2}`)},
	}}, true)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := svc.GetPoint(ctx, "c", id)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Payload) != `{"v":2}` || rec.Vectors[""][0] != 2 {
		t.Fatalf("got %s %v", rec.Payload, rec.Vectors)
	}
	if n, _ := svc.Count(ctx, "c", service.CountRequest{}); n != 1 {
		t.Fatalf("count %d", n)
	}
}
