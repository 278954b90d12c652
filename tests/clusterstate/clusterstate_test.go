// Package clusterstate tests pkg/cluster (registration under a lease and
// the watched state copy) against a real meta node.
package clusterstate

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	metaapp "github.com/shoaldb/shoal/services/meta/app"
	"github.com/shoaldb/shoal/tests/harness"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

func startMeta(t *testing.T) *metaapp.App {
	t.Helper()
	cfg := config.Default()
	cfg.Node.URI = "http://127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
	cfg.Meta.ClientPort = harness.FreePort(t)
	cfg.Meta.APIPort = harness.FreePort(t)
	cfg.Meta.NATSPort = harness.FreePort(t)
	cfg.Meta.DataDir = filepath.Join(t.TempDir(), "meta")
	cfg.Storage.StoragePath = cfg.Meta.DataDir
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := metaapp.Start(ctx, cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRegistrationSurvivesLostLease revokes a node's lease behind its back
// (what happens when meta loses it for longer than the TTL) and checks the
// node registers again with all its keys, and that the watched state sees
// the node leave and return.
func TestRegistrationSurvivesLostLease(t *testing.T) {
	m := startMeta(t)
	cli := m.Client()
	ctx := context.Background()
	state, err := cluster.WatchState(ctx, cli, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()

	node := &shoalv1.Node{Id: 42, Uri: "http://127.0.0.1:1", Tier: shoalv1.NodeTier_NODE_TIER_STORAGE}
	reg, err := cluster.Register(ctx, cli, node, 2, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	status := cluster.StatusKey(42, "c", 0)
	if err := reg.Put(ctx, status, []byte("s")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node visible in state", func() bool { _, ok := state.Node(42); return ok })

	resp, err := cli.Get(ctx, cluster.NodeKey(42))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("node key: %v %v", resp, err)
	}
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node gone after revoke", func() bool { _, ok := state.Node(42); return !ok })
	waitFor(t, "node registered again", func() bool { _, ok := state.Node(42); return ok })
	waitFor(t, "status key written again", func() bool {
		r, err := cli.Get(ctx, status)
		return err == nil && len(r.Kvs) == 1 && string(r.Kvs[0].Value) == "s"
	})

	reg.Close()
	waitFor(t, "node gone after Close", func() bool { _, ok := state.Node(42); return !ok })
	r, err := cli.Get(ctx, status)
	if err != nil || len(r.Kvs) != 0 {
		t.Fatalf("status key after Close: %v %v", r.Kvs, err)
	}
}

// TestStateFollowsCatalog checks that collections and shard maps written to
// etcd appear in the state, that WaitRevision lets a writer read its own
// write, and that deletes are seen.
func TestStateFollowsCatalog(t *testing.T) {
	m := startMeta(t)
	cli := m.Client()
	ctx := context.Background()
	state, err := cluster.WatchState(ctx, cli, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()

	coll, _ := proto.Marshal(&shoalv1.Collection{Name: "a", Uid: "u1"})
	smap, _ := proto.Marshal(&shoalv1.ShardMap{Collection: "a", Uid: "u1", Epoch: 1})
	if _, err := cli.Put(ctx, cluster.CollectionKey("a"), string(coll)); err != nil {
		t.Fatal(err)
	}
	// A collection without its shard map is not listed.
	put, err := cli.Put(ctx, cluster.ShardMapKey("a"), string(smap))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := state.WaitRevision(wctx, put.Header.Revision); err != nil {
		t.Fatal(err)
	}
	c, sm, ok := state.Collection("a")
	if !ok || c.Uid != "u1" || sm.Epoch != 1 || len(state.Collections()) != 1 {
		t.Fatalf("state after put: %v %v %v", c, sm, ok)
	}
	del, err := cli.Delete(ctx, cluster.CollectionKey("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := state.WaitRevision(wctx, del.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := state.Collection("a"); ok || len(state.Collections()) != 0 {
		t.Fatal("collection still visible after delete")
	}
}
