package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
	"github.com/shoaldb/shoal/services/storage/internal/testetcd"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

const self = 7

type fixture struct {
	t   *testing.T
	cli *clientv3.Client
	mgr *Manager
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{testetcd.Start(t)}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	reg, err := cluster.Register(ctx, cli, &shoalv1.Node{Id: self, Tier: shoalv1.NodeTier_NODE_TIER_STORAGE}, 5, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	state, err := cluster.WatchState(ctx, cli, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(state.Close)
	dir := t.TempDir()
	mgr := New(Config{NodeID: self, StoragePath: dir, State: state, Status: reg, Log: zerolog.Nop(), StatusInterval: 20 * time.Millisecond})
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	return &fixture{t: t, cli: cli, mgr: mgr, dir: dir}
}

func (f *fixture) put(key string, m proto.Message) {
	f.t.Helper()
	b, _ := proto.Marshal(m)
	if _, err := f.cli.Put(context.Background(), key, string(b)); err != nil {
		f.t.Fatal(err)
	}
}

// placeCollection writes a collection whose shards are placed on the given
// nodes (one node per shard), shard map first, so the state is unsettled
// until the catalog entry follows.
func (f *fixture) placeCollection(name, uid string, term uint64, nodes ...uint64) {
	f.t.Helper()
	sm := &shoalv1.ShardMap{Collection: name, Uid: uid, Epoch: 1}
	for i, n := range nodes {
		sm.Shards = append(sm.Shards, &shoalv1.Shard{Id: uint32(i), Primary: n, Term: term, Replicas: []*shoalv1.Replica{{NodeId: n, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE}}})
	}
	f.put(cluster.ShardMapKey(name), sm)
	f.put(cluster.CollectionKey(name), &shoalv1.Collection{Name: name, Uid: uid, Config: &shoalv1.CollectionConfig{
		Vectors: map[string]*shoalv1.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_COSINE}}, ShardNumber: uint32(len(nodes)),
	}})
}

func (f *fixture) replica(name, uid string, shard uint32) (*replica.Replica, error) {
	return f.mgr.Replica(context.Background(), &shoalv1.ShardRef{Collection: name, Uid: uid, ShardId: shard})
}

// waitStatus follows the status key until ok holds for it.
func (f *fixture) waitStatus(name string, shard uint32, ok func(*shoalv1.ReplicaStatus) bool) {
	f.t.Helper()
	key := cluster.StatusKey(self, name, shard)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wch := f.cli.Watch(ctx, key)
	for {
		resp, err := f.cli.Get(ctx, key)
		if err != nil {
			f.t.Fatal(err)
		}
		var st *shoalv1.ReplicaStatus
		if len(resp.Kvs) == 1 {
			st = &shoalv1.ReplicaStatus{}
			if err := proto.Unmarshal(resp.Kvs[0].Value, st); err != nil {
				f.t.Fatal(err)
			}
		}
		if ok(st) {
			return
		}
		select {
		case <-wch:
		case <-ctx.Done():
			f.t.Fatalf("status %s: last %v", key, st)
		}
	}
}

func TestManagerFollowsShardMaps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	// A lookup made before the shard map arrives waits for it.
	type found struct {
		r   *replica.Replica
		err error
	}
	early := make(chan found, 1)
	go func() {
		r, err := f.replica("c", "A", 0)
		early <- found{r, err}
	}()
	f.placeCollection("c", "A", 5, self, self, 99)
	got := <-early
	if got.err != nil {
		t.Fatalf("waiting lookup: %v", got.err)
	}
	r0 := got.r
	if _, err := r0.Apply(ctx, &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{Points: []*shoalv1.Point{
		{Id: pointid.Num(1), Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{1, 1}}}},
	}}}}, true); err != nil {
		t.Fatal(err)
	}
	if term, _ := r0.LastApplied(); term != 5 {
		t.Fatalf("replica logged term %d, want the shard's term 5", term)
	}
	f.waitStatus("c", 0, func(st *shoalv1.ReplicaStatus) bool {
		return st != nil && st.Uid == "A" && st.Points == 1 && st.LastSeq == 1 && st.LastTerm == 5
	})
	f.waitStatus("c", 1, func(st *shoalv1.ReplicaStatus) bool { return st != nil && st.Points == 0 })
	if _, err := f.replica("c", "A", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("shard placed elsewhere: %v", err)
	}
	if n := len(f.mgr.Held()); n != 2 {
		t.Fatalf("holding %d replicas, want 2", n)
	}

	// Moving shard 1 away drops it.
	f.put(cluster.ShardMapKey("c"), &shoalv1.ShardMap{Collection: "c", Uid: "A", Epoch: 2, Shards: []*shoalv1.Shard{
		{Id: 0, Primary: self, Term: 6, Replicas: []*shoalv1.Replica{{NodeId: self}}},
		{Id: 1, Primary: 99, Term: 6, Replicas: []*shoalv1.Replica{{NodeId: 99}}},
	}})
	f.waitStatus("c", 1, func(st *shoalv1.ReplicaStatus) bool { return st == nil })
	if _, err := os.Stat(filepath.Join(f.dir, "collections", "c", "A", "shard-1.db")); !os.IsNotExist(err) {
		t.Fatalf("moved-away replica file: %v", err)
	}
	if _, err := r0.Apply(ctx, &shoalv1.Operation{Kind: &shoalv1.Operation_Delete{Delete: &shoalv1.DeletePoints{Ids: []*shoalv1.PointID{pointid.Num(9)}}}}, true); err != nil {
		t.Fatal(err)
	}
	if term, _ := r0.LastApplied(); term != 6 {
		t.Fatalf("term after shard map update = %d, want 6", term)
	}

	// Recreating the collection under a new uid replaces the old data.
	f.placeCollection("c", "B", 1, self)
	f.waitStatus("c", 0, func(st *shoalv1.ReplicaStatus) bool { return st != nil && st.Uid == "B" })
	rB, err := f.replica("c", "B", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := rB.Count(ctx); n != 0 {
		t.Fatalf("new collection holds %d points", n)
	}
	if _, err := r0.Count(ctx); !errors.Is(err, replica.ErrClosed) {
		t.Fatalf("old replica still open: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "collections", "c", "A")); !os.IsNotExist(err) {
		t.Fatalf("old uid directory: %v", err)
	}

	// After Close every lookup is refused as unavailable.
	if err := f.mgr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.replica("c", "B", 0); !errors.Is(err, replica.ErrClosed) {
		t.Fatalf("lookup after Close: %v", err)
	}
}
