package catalog

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
)

// TestVectorNames adds and removes named vectors of a collection's config
// and checks the refusals.
func TestVectorNames(t *testing.T) {
	cli := startEtcd(t)
	svc := New(cli, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, testutil.Logger(t))
	ctx := context.Background()
	registerStorage(t, cli, 1, shoalv1.NodeType_NODE_TYPE_NORMAL)
	startFakeStorage(t, cli)
	cfg := &shoalv1.CollectionConfig{Named: true, Vectors: map[string]*shoalv1.VectorParams{"a": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}}
	if _, err := svc.CreateCollection(ctx, connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: "c", Config: cfg})); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateCollection(ctx, connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: "u", Config: unnamed(2)})); err != nil {
		t.Fatal(err)
	}
	b := &shoalv1.VectorParams{Size: 3, Distance: shoalv1.Distance_DISTANCE_COSINE}
	create := func(coll, name string, p *shoalv1.VectorParams) (*shoalv1.CreateVectorNameResponse, error) {
		r, err := svc.CreateVectorName(ctx, connect.NewRequest(&shoalv1.CreateVectorNameRequest{Collection: coll, Name: name, Params: p}))
		if err != nil {
			return nil, err
		}
		return r.Msg, nil
	}
	del := func(coll, name string) error {
		_, err := svc.DeleteVectorName(ctx, connect.NewRequest(&shoalv1.DeleteVectorNameRequest{Collection: coll, Name: name}))
		return err
	}
	code := func(err error) connect.Code { return connect.CodeOf(err) }

	res, err := create("c", "b", b)
	if err != nil || !res.Created || res.Revision == 0 || res.Collection.Config.Vectors["b"].GetSize() != 3 {
		t.Fatalf("create b: %v %v", res, err)
	}
	// The same again: no change; other parameters, bad ones, an unnamed
	// collection, a missing collection: refused.
	if res, err := create("c", "b", b); err != nil || res.Created || res.Revision != 0 {
		t.Fatalf("create b again: %v %v", res, err)
	}
	for _, tc := range []struct {
		coll, name string
		p          *shoalv1.VectorParams
		want       connect.Code
	}{
		{"c", "b", &shoalv1.VectorParams{Size: 4, Distance: shoalv1.Distance_DISTANCE_COSINE}, connect.CodeInvalidArgument},
		{"c", "d", &shoalv1.VectorParams{Size: 0, Distance: shoalv1.Distance_DISTANCE_COSINE}, connect.CodeInvalidArgument},
		{"c", "d", &shoalv1.VectorParams{Size: 3}, connect.CodeInvalidArgument},
		{"c", "", b, connect.CodeInvalidArgument},
		{"u", "d", b, connect.CodeInvalidArgument},
		{"nope", "d", b, connect.CodeNotFound},
	} {
		if _, err := create(tc.coll, tc.name, tc.p); code(err) != tc.want {
			t.Errorf("create %s/%q %v: %v, want %v", tc.coll, tc.name, tc.p, err, tc.want)
		}
	}

	if err := del("c", "b"); err != nil {
		t.Fatal(err)
	}
	if err := del("c", "b"); code(err) != connect.CodeNotFound {
		t.Fatalf("delete b again: %v", err)
	}
	if err := del("c", "a"); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("delete the last vector: %v", err)
	}
	if err := del("u", ""); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("delete the unnamed vector: %v", err)
	}
	got, err := svc.UpdateCollection(ctx, connect.NewRequest(&shoalv1.UpdateCollectionRequest{Name: "c"}))
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Msg.Collection.Config.Vectors; len(v) != 1 || v["a"] == nil {
		t.Fatalf("vectors after the deletion: %v", v)
	}
}

// TestQuotas stores and reads back the quota configuration.
func TestQuotas(t *testing.T) {
	cli := startEtcd(t)
	svc := New(cli, Defaults{}, testutil.Logger(t))
	ctx := context.Background()
	got, err := svc.GetQuotas(ctx, connect.NewRequest(&shoalv1.GetQuotasRequest{}))
	if err != nil || len(got.Msg.ConfigJson) != 0 {
		t.Fatalf("quotas before any set: %q %v", got.Msg.GetConfigJson(), err)
	}
	cfg := []byte(`{"enabled":true,"max_disk_usage_percent":80}`)
	if _, err := svc.SetQuotas(ctx, connect.NewRequest(&shoalv1.SetQuotasRequest{ConfigJson: cfg})); err != nil {
		t.Fatal(err)
	}
	if got, err = svc.GetQuotas(ctx, connect.NewRequest(&shoalv1.GetQuotasRequest{})); err != nil || string(got.Msg.ConfigJson) != string(cfg) {
		t.Fatalf("quotas: %q %v", got.Msg.GetConfigJson(), err)
	}
	big := make([]byte, MaxQuotaConfigBytes+1)
	if _, err := svc.SetQuotas(ctx, connect.NewRequest(&shoalv1.SetQuotasRequest{ConfigJson: big})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("oversized quotas: %v", err)
	}
}

// TestInitialState checks the replica states a shard key's initial_state
// gives its new shards.
func TestInitialState(t *testing.T) {
	f := func(st shoalv1.ReplicaState, want ...shoalv1.ReplicaState) {
		t.Helper()
		sh := &shoalv1.Shard{Primary: 1, Replicas: []*shoalv1.Replica{
			{NodeId: 1, State: shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING},
			{NodeId: 2, State: shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING},
			{NodeId: 3, State: shoalv1.ReplicaState_REPLICA_STATE_LISTENER},
		}}
		if err := checkInitialState(st); err != nil {
			t.Fatalf("%v refused: %v", st, err)
		}
		applyInitialState(sh, st)
		for i, r := range sh.Replicas {
			if r.State != want[i] {
				t.Fatalf("initial_state %v: replica %d is %v, want %v", st, r.NodeId, r.State, want[i])
			}
		}
	}
	ini, act, par, lis := shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING, shoalv1.ReplicaState_REPLICA_STATE_ACTIVE,
		shoalv1.ReplicaState_REPLICA_STATE_PARTIAL, shoalv1.ReplicaState_REPLICA_STATE_LISTENER
	f(shoalv1.ReplicaState_REPLICA_STATE_UNSPECIFIED, ini, ini, lis)
	f(ini, ini, ini, lis)
	f(act, act, act, lis)
	f(par, ini, par, lis)
	for _, st := range []shoalv1.ReplicaState{shoalv1.ReplicaState_REPLICA_STATE_DEAD, lis, shoalv1.ReplicaState_REPLICA_STATE_RECOVERY} {
		if checkInitialState(st) == nil {
			t.Errorf("initial_state %v accepted", st)
		}
	}
}

func TestDropVectorOptions(t *testing.T) {
	f := func(extra, name, want string) {
		t.Helper()
		cfg := &shoalv1.CollectionConfig{ExtraJson: []byte(extra)}
		if err := dropVectorOptions(cfg, name); err != nil {
			t.Fatalf("%s: %v", extra, err)
		}
		if string(cfg.ExtraJson) != want {
			t.Fatalf("%s without %s: %s, want %s", extra, name, cfg.ExtraJson, want)
		}
	}
	f(``, "b", ``)
	f(`{"hnsw_config":{"m":8}}`, "b", `{"hnsw_config":{"m":8}}`)
	f(`{"vector_options":{"a":{"on_disk":true}}}`, "b", `{"vector_options":{"a":{"on_disk":true}}}`)
	f(`{"vector_options":{"a":{"on_disk":true},"b":{"on_disk":false}}}`, "b", `{"vector_options":{"a":{"on_disk":true}}}`)
	f(`{"hnsw_config":{"m":8},"vector_options":{"b":{"on_disk":false}}}`, "b", `{"hnsw_config":{"m":8}}`)
	f(`{"vector_options":{"b":{}}}`, "b", ``)
}
