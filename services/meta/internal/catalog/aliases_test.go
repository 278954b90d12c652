package catalog

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func createAlias(alias, coll string) *shoalv1.AliasAction {
	return &shoalv1.AliasAction{Action: &shoalv1.AliasAction_CreateAlias{CreateAlias: &shoalv1.CreateAlias{AliasName: alias, CollectionName: coll}}}
}

func deleteAlias(alias string) *shoalv1.AliasAction {
	return &shoalv1.AliasAction{Action: &shoalv1.AliasAction_DeleteAlias{DeleteAlias: &shoalv1.DeleteAlias{AliasName: alias}}}
}

func renameAlias(old, renamed string) *shoalv1.AliasAction {
	return &shoalv1.AliasAction{Action: &shoalv1.AliasAction_RenameAlias{RenameAlias: &shoalv1.RenameAlias{OldAliasName: old, NewAliasName: renamed}}}
}

// storedAliases lists the aliases in etcd as "alias=collection", sorted.
func storedAliases(t *testing.T, cli *clientv3.Client) string {
	t.Helper()
	resp, err := cli.Get(context.Background(), cluster.AliasesPrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), cluster.AliasesPrefix)+"="+string(kv.Value))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestAliases(t *testing.T) {
	cli := startEtcd(t)
	svc := New(cli, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, testutil.Logger(t))
	ctx := context.Background()
	startFakeStorage(t, cli)
	registerStorage(t, cli, 1, shoalv1.NodeType_NODE_TYPE_NORMAL)
	for _, name := range []string{"a", "b"} {
		if _, err := svc.CreateCollection(ctx, createReq(name, 1, 1)); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	update := func(actions ...*shoalv1.AliasAction) error {
		_, err := svc.UpdateAliases(ctx, connect.NewRequest(&shoalv1.UpdateAliasesRequest{Actions: actions}))
		return err
	}
	f := func(want string, actions ...*shoalv1.AliasAction) {
		t.Helper()
		if err := update(actions...); err != nil {
			t.Fatalf("update aliases: %v", err)
		}
		if got := storedAliases(t, cli); got != want {
			t.Fatalf("aliases %q, want %q", got, want)
		}
	}
	f("x=a", createAlias("x", "a"))
	f("x=b y=a", createAlias("x", "b"), createAlias("y", "a")) // create replaces
	f("y=a z=b", renameAlias("x", "z"))
	f("z=b", deleteAlias("y"), deleteAlias("never-existed"))
	// A switch in one request: delete then create under the same name.
	f("z=a", deleteAlias("z"), createAlias("z", "a"))
	f("z=a", createAlias("tmp", "b"), deleteAlias("tmp")) // nets to nothing

	// All or nothing: a failing action leaves every earlier one unapplied.
	wantCode(t, update(createAlias("w", "a"), createAlias("v", "missing")), connect.CodeNotFound, "Collection `missing` doesn't exist!")
	wantCode(t, update(createAlias("w", "a"), renameAlias("nope", "q")), connect.CodeNotFound, "Alias nope does not exists!")
	wantCode(t, update(createAlias("b", "a")), connect.CodeAlreadyExists, "Collection `b` already exists!")
	wantCode(t, update(createAlias("bad/name", "a")), connect.CodeInvalidArgument, "alias name cannot contain")
	wantCode(t, update(&shoalv1.AliasAction{}), connect.CodeInvalidArgument, "alias action")
	if got := storedAliases(t, cli); got != "z=a" {
		t.Fatalf("failed updates changed aliases: %q", got)
	}

	// A collection cannot take an alias's name.
	_, err := svc.CreateCollection(ctx, createReq("z", 1, 1))
	wantCode(t, err, connect.CodeInvalidArgument, "Alias with the same name already exists")

	// Deleting a collection deletes its aliases.
	f("b2=b z=a zz=a", createAlias("zz", "a"), createAlias("b2", "b"))
	if _, err := svc.DeleteCollection(ctx, connect.NewRequest(&shoalv1.DeleteCollectionRequest{Name: "a"})); err != nil {
		t.Fatal(err)
	}
	if got := storedAliases(t, cli); got != "b2=b" {
		t.Fatalf("aliases after deleting their collection: %q", got)
	}
}

func TestUpdateCollection(t *testing.T) {
	cli := startEtcd(t)
	svc := New(cli, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, testutil.Logger(t))
	ctx := context.Background()
	startFakeStorage(t, cli)
	registerStorage(t, cli, 1, shoalv1.NodeType_NODE_TYPE_NORMAL)
	req := createReq("c", 1, 1)
	req.Msg.Config.ExtraJson = []byte(`{"hnsw_config":{"m":8,"ef_construct":50},"metadata":{"k":"v"}}`)
	if _, err := svc.CreateCollection(ctx, req); err != nil {
		t.Fatal(err)
	}
	u32 := func(v uint32) *uint32 { return &v }
	yes := true
	f := func(upd *shoalv1.UpdateCollectionRequest, wantExtra string, wantRF, wantWCF uint32) {
		t.Helper()
		upd.Name = "c"
		resp, err := svc.UpdateCollection(ctx, connect.NewRequest(upd))
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		cfg := resp.Msg.Collection.Config
		var got, want any
		_ = json.Unmarshal(cfg.ExtraJson, &got)
		_ = json.Unmarshal([]byte(wantExtra), &want)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) || cfg.ReplicationFactor != wantRF || cfg.WriteConsistencyFactor != wantWCF || resp.Msg.Revision == 0 {
			t.Fatalf("after update: extra %s rf %d wcf %d rev %d; want %s %d %d", cfg.ExtraJson, cfg.ReplicationFactor, cfg.WriteConsistencyFactor, resp.Msg.Revision, wantExtra, wantRF, wantWCF)
		}
	}
	f(&shoalv1.UpdateCollectionRequest{ExtraPatchJson: []byte(`{"hnsw_config":{"m":32},"optimizers_config":{"indexing_threshold":5}}`)},
		`{"hnsw_config":{"m":32,"ef_construct":50},"metadata":{"k":"v"},"optimizers_config":{"indexing_threshold":5}}`, 1, 1)
	f(&shoalv1.UpdateCollectionRequest{ExtraPatchJson: []byte(`{"metadata":null}`), ReplicationFactor: u32(3), WriteConsistencyFactor: u32(2), OnDiskPayload: &yes},
		`{"hnsw_config":{"m":32,"ef_construct":50},"optimizers_config":{"indexing_threshold":5}}`, 3, 2)

	_, err := svc.UpdateCollection(ctx, connect.NewRequest(&shoalv1.UpdateCollectionRequest{Name: "c", WriteConsistencyFactor: u32(4)}))
	wantCode(t, err, connect.CodeInvalidArgument, "must not be greater than replication_factor")
	_, err = svc.UpdateCollection(ctx, connect.NewRequest(&shoalv1.UpdateCollectionRequest{Name: "c", ExtraPatchJson: []byte(`[1]`)}))
	wantCode(t, err, connect.CodeInvalidArgument, "must be an object")
	_, err = svc.UpdateCollection(ctx, connect.NewRequest(&shoalv1.UpdateCollectionRequest{Name: "missing"}))
	wantCode(t, err, connect.CodeNotFound, "Collection `missing` doesn't exist!")
}
