package catalog

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/logging"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/etcdserver"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// startEtcd runs a one-member etcd on free loopback ports and returns a
// client to it; both stop when the test ends.
func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	log := testutil.Logger(t)
	srv, err := etcdserver.Start(context.Background(), testutil.Node(t, t.TempDir()), log)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(srv.Close)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.LocalClientURL()}, DialTimeout: 5 * time.Second, Logger: logging.Zap(log)})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func putProto(t *testing.T, cli *clientv3.Client, key string, m proto.Message) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(context.Background(), key, string(b)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// testListeners are the Listener storage nodes the tests register.
var testListeners = map[uint64]bool{9: true}

func registerStorage(t *testing.T, cli *clientv3.Client, id uint64, typ shoalv1.NodeType) {
	putProto(t, cli, cluster.NodeKey(id), &shoalv1.Node{Id: id, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE, NodeType: typ, Uri: "http://storage:6335"})
}

// fakeStorage plays the storage nodes: for every shard map it sees, it
// writes an Active status for each replica placed on one of its nodes.
// A node marked stale reports the wrong uid (a leftover of an older
// collection of the same name), which must not activate anything.
type fakeStorage struct {
	t   *testing.T
	cli *clientv3.Client

	mu    sync.Mutex
	stale map[uint64]bool
}

func startFakeStorage(t *testing.T, cli *clientv3.Client) *fakeStorage {
	fs := &fakeStorage{t: t, cli: cli, stale: map[uint64]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ev := range cli.Watch(ctx, cluster.ShardMapsPrefix, clientv3.WithPrefix()) {
			for _, e := range ev.Events {
				if e.Type == clientv3.EventTypePut {
					fs.report(ctx, e.Kv.Value)
				}
			}
		}
	}()
	return fs
}

// setStale changes how node reports and reports every current map again.
func (fs *fakeStorage) setStale(node uint64, stale bool) {
	fs.mu.Lock()
	fs.stale[node] = stale
	fs.mu.Unlock()
	resp, err := fs.cli.Get(context.Background(), cluster.ShardMapsPrefix, clientv3.WithPrefix())
	if err != nil {
		fs.t.Errorf("list shard maps: %v", err)
		return
	}
	for _, kv := range resp.Kvs {
		fs.report(context.Background(), kv.Value)
	}
}

func (fs *fakeStorage) report(ctx context.Context, val []byte) {
	m := &shoalv1.ShardMap{}
	if err := proto.Unmarshal(val, m); err != nil {
		fs.t.Errorf("decode shard map: %v", err)
		return
	}
	for _, sh := range m.Shards {
		for _, r := range sh.Replicas {
			fs.mu.Lock()
			uid := m.Uid
			if fs.stale[r.NodeId] {
				uid = "stale-" + uid
			}
			fs.mu.Unlock()
			st, _ := proto.Marshal(&shoalv1.ReplicaStatus{Collection: m.Collection, Uid: uid, ShardId: sh.Id, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE})
			if _, err := fs.cli.Put(ctx, cluster.StatusKey(r.NodeId, m.Collection, sh.Id), string(st)); err != nil && ctx.Err() == nil {
				fs.t.Errorf("write status: %v", err)
			}
		}
	}
}

func createReq(name string, shards, rf uint32) *connect.Request[shoalv1.CreateCollectionRequest] {
	c := unnamed(8)
	c.ShardNumber, c.ReplicationFactor = shards, rf
	return connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: name, Config: c})
}

func wantCode(t *testing.T, err error, code connect.Code, msg string) {
	t.Helper()
	if connect.CodeOf(err) != code || !strings.Contains(err.Error(), msg) {
		t.Fatalf("error = %v (code %v), want code %v with %q", err, connect.CodeOf(err), code, msg)
	}
}

// storedMap reads a collection's shard map from etcd.
func storedMap(t *testing.T, cli *clientv3.Client, name string) *shoalv1.ShardMap {
	t.Helper()
	resp, err := cli.Get(context.Background(), cluster.ShardMapKey(name))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get shard map %s: %v (%d keys)", name, err, len(resp.Kvs))
	}
	m := &shoalv1.ShardMap{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkActive checks that every counted replica is Active, that every
// shard has one replica in state Listener on each of testListeners (never
// the primary), that replicas are on distinct nodes, and that the map is
// the one in etcd; it returns the Active replicas per node.
func checkActive(t *testing.T, cli *clientv3.Client, coll *shoalv1.Collection, m *shoalv1.ShardMap) map[uint64]int {
	t.Helper()
	if m.Uid != coll.Uid || m.Collection != coll.Name || m.Epoch != 2 {
		t.Fatalf("shard map %v: want uid %s, collection %s, epoch 2", m, coll.Uid, coll.Name)
	}
	if int(coll.Config.ShardNumber) != len(m.Shards) {
		t.Fatalf("%d shards, config says %d", len(m.Shards), coll.Config.ShardNumber)
	}
	count := map[uint64]int{}
	for _, sh := range m.Shards {
		seen := map[uint64]bool{}
		for _, r := range sh.Replicas {
			if seen[r.NodeId] {
				t.Fatalf("shard %d: two replicas on node %d", sh.Id, r.NodeId)
			}
			seen[r.NodeId] = true
			if testListeners[r.NodeId] {
				if r.State != shoalv1.ReplicaState_REPLICA_STATE_LISTENER || sh.Primary == r.NodeId {
					t.Fatalf("shard %d: replica %v on a Listener node is not in state Listener or is the primary", sh.Id, r)
				}
				continue
			}
			if r.State != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
				t.Fatalf("shard %d: replica %v not Active", sh.Id, r)
			}
			count[r.NodeId]++
		}
		for id := range testListeners {
			if !seen[id] {
				t.Fatalf("shard %d: no replica on Listener node %d", sh.Id, id)
			}
		}
		if sh.Term != 1 || sh.Primary != sh.Replicas[0].NodeId {
			t.Fatalf("shard %d: term %d primary %d", sh.Id, sh.Term, sh.Primary)
		}
	}
	if got := storedMap(t, cli, coll.Name); !proto.Equal(got, m) {
		t.Fatalf("returned map %v differs from stored %v", m, got)
	}
	return count
}

func TestCreateCollection(t *testing.T) {
	cli := startEtcd(t)
	svc := New(cli, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, testutil.Logger(t))
	ctx := context.Background()
	fs := startFakeStorage(t, cli)

	_, err := svc.CreateCollection(ctx, createReq("early", 1, 1))
	wantCode(t, err, connect.CodeFailedPrecondition, "no storage node is registered")

	for _, id := range []uint64{1, 2, 3} {
		registerStorage(t, cli, id, shoalv1.NodeType_NODE_TYPE_NORMAL)
	}
	registerStorage(t, cli, 9, shoalv1.NodeType_NODE_TYPE_LISTENER)
	// The Listener never reports a replica of these collections as
	// Active (it reports a stale uid): activation must not wait for it.
	fs.setStale(9, true)

	// 6 shards × 2 replicas on 3 Normal nodes: 4 replicas each; the
	// Listener gets one extra replica of every shard, in state Listener,
	// which activation does not wait for.
	first, err := svc.CreateCollection(ctx, createReq("c1", 6, 2))
	if err != nil {
		t.Fatalf("create c1: %v", err)
	}
	coll := first.Msg.Collection
	if !first.Msg.Created || coll.Name != "c1" || coll.Uid == "" || coll.Config.ReplicationFactor != 2 || coll.Config.WriteConsistencyFactor != 1 {
		t.Fatalf("create c1 = %v", first.Msg)
	}
	if count := checkActive(t, cli, coll, first.Msg.ShardMap); count[1] != 4 || count[2] != 4 || count[3] != 4 || count[9] != 0 {
		t.Fatalf("replicas per node = %v, want 4 on each of 1, 2, 3", count)
	}

	// The same request again (a retry after a timeout): not created, same
	// collection and map.
	again, err := svc.CreateCollection(ctx, createReq("c1", 6, 2))
	if err != nil {
		t.Fatalf("create c1 again: %v", err)
	}
	if again.Msg.Created || !proto.Equal(again.Msg.Collection, coll) || !proto.Equal(again.Msg.ShardMap, first.Msg.ShardMap) {
		t.Fatalf("create c1 again = %v, want created=false and the first result", again.Msg)
	}

	// A different configuration under the same name.
	_, err = svc.CreateCollection(ctx, createReq("c1", 6, 1))
	wantCode(t, err, connect.CodeAlreadyExists, "Wrong input: Collection `c1` already exists!")
	_, err = svc.CreateCollection(ctx, createReq("c1", 0, 3))
	wantCode(t, err, connect.CodeAlreadyExists, "already exists")

	// Defaults: shard_number = Normal storage nodes, replication factor from
	// the configuration; a retry leaving shard_number at 0 matches.
	def, err := svc.CreateCollection(ctx, createReq("c2", 0, 0))
	if err != nil {
		t.Fatalf("create c2: %v", err)
	}
	if c := def.Msg.Collection.Config; c.ShardNumber != 3 || c.ReplicationFactor != 1 || c.WriteConsistencyFactor != 1 {
		t.Fatalf("c2 config = %v, want 3 shards, rf 1, wcf 1", c)
	}
	if count := checkActive(t, cli, def.Msg.Collection, def.Msg.ShardMap); count[1] != 1 || count[2] != 1 || count[3] != 1 {
		t.Fatalf("c2 replicas per node = %v, want one each", count)
	}
	if again, err := svc.CreateCollection(ctx, createReq("c2", 0, 0)); err != nil || again.Msg.Created {
		t.Fatalf("create c2 again = %v, %v; want created=false", again, err)
	}

	// Invalid requests.
	bad := createReq("c3", 2, 1)
	bad.Msg.Config.WriteConsistencyFactor = 2
	_, err = svc.CreateCollection(ctx, bad)
	wantCode(t, err, connect.CodeInvalidArgument, "write_consistency_factor (2) must not be greater than replication_factor (1)")
	_, err = svc.CreateCollection(ctx, createReq("a/b", 1, 1))
	wantCode(t, err, connect.CodeInvalidArgument, `cannot contain "/" char`)
	_, err = svc.CreateCollection(ctx, connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: "novec"}))
	wantCode(t, err, connect.CodeInvalidArgument, "at least one vector")

	// A replication factor above the number of Normal nodes: one replica
	// per node, the asked factor kept in the config.
	wide, err := svc.CreateCollection(ctx, createReq("wide", 2, 5))
	if err != nil {
		t.Fatalf("create wide: %v", err)
	}
	if wide.Msg.Collection.Config.ReplicationFactor != 5 {
		t.Fatalf("wide rf = %d, want 5 kept", wide.Msg.Collection.Config.ReplicationFactor)
	}
	if count := checkActive(t, cli, wide.Msg.Collection, wide.Msg.ShardMap); count[1] != 2 || count[2] != 2 || count[3] != 2 || count[9] != 0 {
		t.Fatalf("wide replicas per node = %v, want 2 on each Normal node", count)
	}

	t.Run("concurrent creates have one winner", func(t *testing.T) {
		const n = 8
		results := make([]*shoalv1.CreateCollectionResponse, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp, err := svc.CreateCollection(ctx, createReq("race", 3, 2))
				errs[i] = err
				if err == nil {
					results[i] = resp.Msg
				}
			})
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("create %d: %v", i, errs[i])
			}
			if results[i].Created {
				created++
			}
			if results[i].Collection.Uid != results[0].Collection.Uid {
				t.Fatalf("two uids: %s and %s", results[i].Collection.Uid, results[0].Collection.Uid)
			}
		}
		if created != 1 {
			t.Fatalf("%d requests created the collection, want exactly 1", created)
		}
	})

	t.Run("deadline while initializing, then retry", func(t *testing.T) {
		// Node 4 is empty, so every shard of "slow" goes there; it first
		// reports a stale uid, which must not count.
		fs.setStale(4, true)
		registerStorage(t, cli, 4, shoalv1.NodeType_NODE_TYPE_NORMAL)
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := svc.CreateCollection(short, createReq("slow", 2, 1))
		wantCode(t, err, connect.CodeDeadlineExceeded, "collection `slow` exists but its replicas are still initializing (0 of 2 ready)")
		m := storedMap(t, cli, "slow")
		for _, sh := range m.Shards {
			if sh.Replicas[0].NodeId != 4 || sh.Replicas[0].State != shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING || m.Epoch != 1 {
				t.Fatalf("slow map %v: want every replica Initializing on node 4, epoch 1", m)
			}
		}
		fs.setStale(4, false)
		resp, err := svc.CreateCollection(ctx, createReq("slow", 2, 1))
		if err != nil {
			t.Fatalf("retry create slow: %v", err)
		}
		if resp.Msg.Created {
			t.Fatal("retry reported created=true")
		}
		checkActive(t, cli, resp.Msg.Collection, resp.Msg.ShardMap)
	})

	t.Run("delete", func(t *testing.T) {
		resp, err := svc.DeleteCollection(ctx, connect.NewRequest(&shoalv1.DeleteCollectionRequest{Name: "c1"}))
		if err != nil || !resp.Msg.Deleted {
			t.Fatalf("delete c1 = %v, %v; want deleted", resp, err)
		}
		for _, key := range []string{cluster.CollectionKey("c1"), cluster.ShardMapKey("c1")} {
			if got, err := cli.Get(ctx, key); err != nil || len(got.Kvs) != 0 {
				t.Fatalf("%s after delete: %v, %v", key, got, err)
			}
		}
		resp, err = svc.DeleteCollection(ctx, connect.NewRequest(&shoalv1.DeleteCollectionRequest{Name: "c1"}))
		if err != nil || resp.Msg.Deleted {
			t.Fatalf("delete c1 again = %v, %v; want deleted=false", resp, err)
		}
		_, err = svc.DeleteCollection(ctx, connect.NewRequest(&shoalv1.DeleteCollectionRequest{Name: ""}))
		wantCode(t, err, connect.CodeInvalidArgument, "must not be empty")
		// Created again: a new uid, so old replicas are never reused.
		re, err := svc.CreateCollection(ctx, createReq("c1", 6, 1))
		if err != nil || !re.Msg.Created || re.Msg.Collection.Uid == coll.Uid {
			t.Fatalf("re-create c1 = %v, %v; want created with a new uid", re, err)
		}
	})
}

func TestCreateCollectionDeletedWhileWaiting(t *testing.T) {
	cli := startEtcd(t)
	svc := New(cli, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, testutil.Logger(t))
	registerStorage(t, cli, 1, shoalv1.NodeType_NODE_TYPE_NORMAL)
	ctx := context.Background()

	// No storage reports; delete the collection as soon as its map exists.
	start, err := cli.Get(ctx, cluster.ShardMapKey("gone"))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	wch := cli.Watch(wctx, cluster.ShardMapKey("gone"), clientv3.WithRev(start.Header.Revision+1))
	done := make(chan error, 1)
	go func() {
		for ev := range wch {
			if len(ev.Events) > 0 {
				_, err := svc.DeleteCollection(ctx, connect.NewRequest(&shoalv1.DeleteCollectionRequest{Name: "gone"}))
				done <- err
				return
			}
		}
		done <- errors.New("watch ended before the shard map appeared")
	}()
	_, err = svc.CreateCollection(ctx, createReq("gone", 1, 1))
	if derr := <-done; derr != nil {
		t.Fatalf("delete: %v", derr)
	}
	wantCode(t, err, connect.CodeNotFound, "Collection `gone` was deleted while its replicas were initializing")
}
