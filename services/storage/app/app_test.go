package app_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/storage/app"
	"github.com/shoaldb/shoal/services/storage/internal/testetcd"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}

func putMsg(t *testing.T, cli *clientv3.Client, key string, m proto.Message) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(context.Background(), key, string(b)); err != nil {
		t.Fatal(err)
	}
}

// waitKey waits until key's value satisfies ok (val is nil when the key
// does not exist), following the key with a watch.
func waitKey(t *testing.T, cli *clientv3.Client, key string, ok func(val []byte) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var val []byte
	if len(resp.Kvs) == 1 {
		val = resp.Kvs[0].Value
	}
	if ok(val) {
		return
	}
	for wr := range cli.Watch(ctx, key, clientv3.WithRev(resp.Header.Revision+1)) {
		for _, ev := range wr.Events {
			val = ev.Kv.Value
			if ev.Type == mvccpb.DELETE {
				val = nil
			}
			if ok(val) {
				return
			}
		}
	}
	t.Fatalf("key %s never reached the wanted value (last %x)", key, val)
}

func status(val []byte) *shoalv1.ReplicaStatus {
	if val == nil {
		return nil
	}
	st := &shoalv1.ReplicaStatus{}
	if proto.Unmarshal(val, st) != nil {
		return nil
	}
	return st
}

func code(err error) connect.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return connect.CodeUnknown
}

func vec(v ...float32) map[string]*shoalv1.Vector {
	return map[string]*shoalv1.Vector{"": {Data: v}}
}

func TestStorageNode(t *testing.T) {
	ctx := context.Background()
	endpoint := testetcd.Start(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	dir := t.TempDir()
	cfg := config.Default()
	cfg.Meta.Endpoints = []string{endpoint}
	cfg.Storage.StoragePath = dir
	cfg.Node.URI = "http://127.0.0.1:0"
	// A replica file no shard map references: deleted at startup.
	stale := filepath.Join(dir, "collections", "gone", "old-uid", "shard-3.db")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	a, err := app.Start(ctx, cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale replica file survived startup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "collections", "gone")); !os.IsNotExist(err) {
		t.Fatalf("stale collection directory survived startup: %v", err)
	}
	id := a.NodeID()
	waitKey(t, cli, cluster.NodeKey(id), func(v []byte) bool {
		n := &shoalv1.Node{}
		return v != nil && proto.Unmarshal(v, n) == nil && n.Uri == a.URL() && n.Tier == shoalv1.NodeTier_NODE_TIER_STORAGE
	})

	// Place shard 0 on this node and shard 1 elsewhere.
	coll := &shoalv1.Collection{Name: "c1", Uid: "u1", Config: &shoalv1.CollectionConfig{
		Vectors:     map[string]*shoalv1.VectorParams{"": {Size: 3, Distance: shoalv1.Distance_DISTANCE_DOT}},
		ShardNumber: 2, ReplicationFactor: 1, WriteConsistencyFactor: 1,
	}}
	putMsg(t, cli, cluster.CollectionKey("c1"), coll)
	putMsg(t, cli, cluster.ShardMapKey("c1"), &shoalv1.ShardMap{Collection: "c1", Uid: "u1", Epoch: 1, Shards: []*shoalv1.Shard{
		{Id: 0, Primary: id, Term: 1, Replicas: []*shoalv1.Replica{{NodeId: id, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE}}},
		{Id: 1, Primary: 999, Term: 1, Replicas: []*shoalv1.Replica{{NodeId: 999, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE}}},
	}})
	statusKey := cluster.StatusKey(id, "c1", 0)
	waitKey(t, cli, statusKey, func(v []byte) bool {
		st := status(v)
		return st != nil && st.Uid == "u1" && st.State == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE
	})
	file := filepath.Join(dir, "collections", "c1", "u1", "shard-0.db")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("replica file: %v", err)
	}

	c := shoalv1connect.NewStorageServiceClient(h2cClient(), a.URL(), connect.WithGRPC())
	ref := &shoalv1.ShardRef{Collection: "c1", Uid: "u1", ShardId: 0}
	up, err := c.Upsert(ctx, connect.NewRequest(&shoalv1.UpsertRequest{Shard: ref, Wait: true, Points: []*shoalv1.Point{
		{Id: pointid.Num(1), Vectors: vec(1, 0, 0), Payload: []byte(`{"n":1}`)},
		{Id: pointid.Num(2), Vectors: vec(0, 1, 0)},
		{Id: pointid.Num(3), Vectors: vec(0.5, 0.5, 0)},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	if up.Msg.Seq != 1 || !up.Msg.Completed {
		t.Fatalf("upsert answer %v", up.Msg)
	}
	sr, err := c.Search(ctx, connect.NewRequest(&shoalv1.SearchRequest{Shard: ref, Vector: &shoalv1.Vector{Data: []float32{1, 0.2, 0}}, Limit: 2, WithPayload: true}))
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Msg.Points) != 2 || sr.Msg.Points[0].Point.Id.GetNum() != 1 || sr.Msg.Points[1].Point.Id.GetNum() != 3 || string(sr.Msg.Points[0].Point.Payload) != `{"n":1}` {
		t.Fatalf("search: %v", sr.Msg.Points)
	}
	sc, err := c.Scroll(ctx, connect.NewRequest(&shoalv1.ScrollRequest{Shard: ref, Limit: 2}))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Msg.Points) != 2 || sc.Msg.NextOffset.GetNum() != 3 {
		t.Fatalf("scroll: %v next %v", sc.Msg.Points, sc.Msg.NextOffset)
	}
	gp, err := c.GetPoints(ctx, connect.NewRequest(&shoalv1.GetPointsRequest{Shard: ref, Ids: []*shoalv1.PointID{pointid.Num(2), pointid.Num(7)}, WithVector: &shoalv1.WithVector{All: true}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(gp.Msg.Points) != 1 || !slices.Equal(gp.Msg.Points[0].Vectors[""].Data, []float32{0, 1, 0}) {
		t.Fatalf("get: %v", gp.Msg.Points)
	}
	del, err := c.DeletePoints(ctx, connect.NewRequest(&shoalv1.DeletePointsRequest{Shard: ref, Ids: []*shoalv1.PointID{pointid.Num(2)}}))
	if err != nil {
		t.Fatal(err)
	}
	if del.Msg.Seq != 2 || del.Msg.Completed {
		t.Fatalf("delete answer %v", del.Msg)
	}
	// wait=false acknowledges once the op is in the WAL: the count reaches
	// 2 once the apply loop has caught up.
	deadline := time.Now().Add(5 * time.Second)
	for {
		cnt, err := c.Count(ctx, connect.NewRequest(&shoalv1.CountRequest{Shard: ref}))
		if err != nil {
			t.Fatal(err)
		}
		if cnt.Msg.Count == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("count = %d after an acknowledged delete", cnt.Msg.Count)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The status follows the writes.
	waitKey(t, cli, statusKey, func(v []byte) bool {
		st := status(v)
		return st != nil && st.LastSeq == 2 && st.LastTerm == 1 && st.Points == 2
	})

	// Errors map to Connect codes.
	_, err = c.Upsert(ctx, connect.NewRequest(&shoalv1.UpsertRequest{Shard: ref, Points: []*shoalv1.Point{{Id: pointid.Num(9), Vectors: vec(1, 2)}}}))
	if code(err) != connect.CodeInvalidArgument {
		t.Fatalf("wrong dimension: %v", err)
	}
	_, err = c.Count(ctx, connect.NewRequest(&shoalv1.CountRequest{Shard: &shoalv1.ShardRef{Collection: "c1", Uid: "other", ShardId: 0}}))
	if code(err) != connect.CodeNotFound {
		t.Fatalf("wrong uid: %v", err)
	}
	hr, err := http.Get(a.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %s", hr.Status)
	}

	// Restart on the same path: same id, data still there.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitKey(t, cli, statusKey, func(v []byte) bool { return v == nil })
	a2, err := app.Start(ctx, cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if a2.NodeID() != id {
		t.Fatalf("node id changed: %d -> %d", id, a2.NodeID())
	}
	c2 := shoalv1connect.NewStorageServiceClient(h2cClient(), a2.URL())
	cnt, err := c2.Count(ctx, connect.NewRequest(&shoalv1.CountRequest{Shard: ref}))
	if err != nil || cnt.Msg.Count != 2 {
		t.Fatalf("count after restart: %v %v", cnt, err)
	}
	waitKey(t, cli, statusKey, func(v []byte) bool {
		st := status(v)
		return st != nil && st.LastSeq == 2 && st.Points == 2
	})

	// Deleting the collection drops the replica: status key, then file.
	if _, err := cli.Delete(ctx, cluster.CollectionKey("c1")); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, cluster.ShardMapKey("c1")); err != nil {
		t.Fatal(err)
	}
	waitKey(t, cli, statusKey, func(v []byte) bool { return v == nil })
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("replica file survived the collection: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "collections", "c1")); !os.IsNotExist(err) {
		t.Fatalf("collection directory survived: %v", err)
	}
	_, err = c2.Count(ctx, connect.NewRequest(&shoalv1.CountRequest{Shard: ref}))
	if code(err) != connect.CodeNotFound {
		t.Fatalf("count of a dropped replica: %v", err)
	}
}
