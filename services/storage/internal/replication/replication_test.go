package replication

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
	"google.golang.org/protobuf/proto"
)

// memMaps is an in-memory cluster state with one collection.
type memMaps struct {
	mu      sync.Mutex
	coll    *shoalv1.Collection
	m       *shoalv1.ShardMap
	nodes   map[uint64]*shoalv1.Node
	changed chan struct{}
}

func (s *memMaps) Collections() []*shoalv1.Collection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []*shoalv1.Collection{s.coll}
}

func (s *memMaps) Collection(name string) (*shoalv1.Collection, *shoalv1.ShardMap, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != s.coll.GetName() {
		return nil, nil, false
	}
	return s.coll, s.m, true
}

func (s *memMaps) Node(id uint64) (*shoalv1.Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[id]
	return n, ok
}

func (s *memMaps) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *memMaps) update(_ context.Context, collection, uid string, edit func(*shoalv1.ShardMap) (bool, error)) (*shoalv1.ShardMap, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := proto.Clone(s.m).(*shoalv1.ShardMap)
	changed, err := edit(m)
	if err != nil || !changed {
		return m, err
	}
	m.Epoch++
	s.m = m
	close(s.changed)
	s.changed = make(chan struct{})
	return m, nil
}

func (s *memMaps) state(node uint64) shoalv1.ReplicaState {
	_, m, _ := s.Collection("c")
	return cluster.FindReplica(m.GetShards()[0], node).GetState()
}

func (s *memMaps) setState(t testing.TB, node uint64, st shoalv1.ReplicaState) {
	t.Helper()
	_, err := s.update(context.Background(), "c", "u", func(m *shoalv1.ShardMap) (bool, error) {
		cluster.FindReplica(m.Shards[0], node).State = st
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// diskReplicas holds one node's replica of shard 0.
type diskReplicas struct {
	mu          sync.Mutex
	restoreTook time.Duration // of the last Restore (checks, move, open)
	path        string
	cfg         *shoalv1.CollectionConfig
	r           *replica.Replica
}

func (d *diskReplicas) Replica(context.Context, *shoalv1.ShardRef) (*replica.Replica, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.r, nil
}

func (d *diskReplicas) Reset(context.Context, *shoalv1.ShardRef) (*replica.Replica, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	term := d.r.Term()
	d.r.Close()
	if err := os.Remove(d.path); err != nil {
		return nil, err
	}
	r, err := replica.Open(d.path, d.cfg, zerolog.Nop())
	if err != nil {
		return nil, err
	}
	r.SetTerm(term)
	d.r = r
	return r, nil
}

type testNode struct {
	id    uint64
	down  atomic.Bool // the node's server answers 503
	reps  *diskReplicas
	coord *Coordinator
	srv   *httptest.Server
}

func (d *diskReplicas) Restore(_ context.Context, _ *shoalv1.ShardRef, path string) (*replica.Replica, replica.SnapshotInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	defer func() { d.restoreTook = time.Since(start) }()
	info, err := replica.CheckSnapshot(path)
	if err != nil {
		return nil, info, err
	}
	term := d.r.Term()
	d.r.Close()
	if err := os.Rename(path, d.path); err != nil {
		return nil, info, err
	}
	r, err := replica.Open(d.path, d.cfg, zerolog.Nop())
	if err != nil {
		return nil, info, err
	}
	r.SetTerm(term)
	d.r = r
	return r, info, nil
}

// nodeOption adjusts a test node's coordinator config before it is
// created; the returned func, if any, runs once the coordinator exists.
type nodeOption func(t testing.TB, id uint64, cfg *Config) func(*Coordinator)

// startCluster starts three nodes holding shard 0 of collection "c"
// (node 1 primary, term 1) with the given write consistency factor.
func startCluster(t *testing.T, wcf uint32, opts ...nodeOption) (*memMaps, map[uint64]*testNode) {
	t.Helper()
	cfg := &shoalv1.CollectionConfig{
		Vectors:                map[string]*shoalv1.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}},
		ShardNumber:            1,
		ReplicationFactor:      3,
		WriteConsistencyFactor: wcf,
	}
	return startClusterWith(t, cfg, opts...)
}

// startClusterWith is startCluster for a collection config of one's own.
func startClusterWith(t testing.TB, cfg *shoalv1.CollectionConfig, opts ...nodeOption) (*memMaps, map[uint64]*testNode) {
	t.Helper()
	maps := &memMaps{
		coll:    &shoalv1.Collection{Name: "c", Uid: "u", Config: cfg},
		nodes:   map[uint64]*shoalv1.Node{},
		changed: make(chan struct{}),
		m: &shoalv1.ShardMap{Collection: "c", Uid: "u", Epoch: 1, Shards: []*shoalv1.Shard{{Id: 0, Primary: 1, Term: 1, Replicas: []*shoalv1.Replica{
			{NodeId: 1, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE},
			{NodeId: 2, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE},
			{NodeId: 3, State: shoalv1.ReplicaState_REPLICA_STATE_ACTIVE},
		}}}},
	}
	nodes := map[uint64]*testNode{}
	dir := t.TempDir()
	for id := uint64(1); id <= 3; id++ {
		path := filepath.Join(dir, string(rune('0'+id)), "s.db")
		r, err := replica.Open(path, cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		r.SetTerm(1)
		n := &testNode{id: id, reps: &diskReplicas{path: path, cfg: cfg, r: r}}
		cc := Config{NodeID: id, Maps: maps, Replicas: n.reps, Update: maps.update, Log: zerolog.Nop(), DeadAfter: 300 * time.Millisecond, AckTimeout: 3 * time.Second}
		var after []func(*Coordinator)
		for _, o := range opts {
			if f := o(t, id, &cc); f != nil {
				after = append(after, f)
			}
		}
		n.coord = New(cc)
		for _, f := range after {
			f(n.coord)
		}
		n.srv = httptest.NewUnstartedServer(followerHandler{c: n.coord, down: &n.down})
		n.srv.EnableHTTP2 = true
		n.srv.Start()
		maps.nodes[id] = &shoalv1.Node{Id: id, Uri: n.srv.URL}
		nodes[id] = n
	}
	for _, n := range nodes {
		n.coord.peers = newPeers(maps, n.srv.Client())
	}
	for _, n := range nodes {
		n.coord.Start()
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.coord.Close()
			n.srv.Close()
			n.reps.r.Close()
		}
	})
	return maps, nodes
}

// followerHandler serves the follower side of the internal API.
type followerHandler struct {
	c    *Coordinator
	down *atomic.Bool
}

func (h followerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	path, handler := shoalv1connect.NewStorageServiceHandler(followerService{c: h.c})
	mux := http.NewServeMux()
	mux.Handle(path, handler)
	mux.ServeHTTP(w, r)
}

type followerService struct {
	shoalv1connect.UnimplementedStorageServiceHandler
	c *Coordinator
}

func (f followerService) Replicate(ctx context.Context, req *connect.Request[shoalv1.ReplicateRequest]) (*connect.Response[shoalv1.ReplicateResponse], error) {
	resp, err := f.c.Replicate(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

func (f followerService) Install(ctx context.Context, req *connect.Request[shoalv1.InstallRequest]) (*connect.Response[shoalv1.InstallResponse], error) {
	if err := f.c.Install(ctx, req.Msg); err != nil {
		return nil, err
	}
	return connect.NewResponse(&shoalv1.InstallResponse{}), nil
}

var ref = &shoalv1.ShardRef{Collection: "c", Uid: "u", ShardId: 0}

func upsert(id uint64, x float32) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{Points: []*shoalv1.Point{
		{Id: pointid.Num(id), Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{x, 1}}}},
	}}}}
}

func digest(t testing.TB, n *testNode) replica.Digest {
	t.Helper()
	r, _ := n.reps.Replica(context.Background(), ref)
	d, err := r.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// eventually polls cond for up to 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWritesReachEveryReplica(t *testing.T) {
	_, nodes := startCluster(t, 3)
	ctx := context.Background()
	for i := uint64(1); i <= 50; i++ {
		if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(i, float32(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	// wcf 3: every replica acknowledged every write before it returned.
	want := digest(t, nodes[1])
	if want.Points != 50 || want.LastSeq != 50 {
		t.Fatalf("primary digest %+v", want)
	}
	for _, id := range []uint64{2, 3} {
		if got := digest(t, nodes[id]); got != want {
			t.Fatalf("node %d digest %+v, primary %+v", id, got, want)
		}
	}
	// A follower refuses writes; so does the primary for another term.
	_, err := nodes[2].coord.Write(ctx, ref, 1, upsert(99, 1), true)
	if !errors.Is(err, ErrNotPrimary) {
		t.Fatalf("write on a follower: %v", err)
	}
	_, err = nodes[1].coord.Write(ctx, ref, 7, upsert(99, 1), true)
	if !errors.Is(err, ErrNotPrimary) {
		t.Fatalf("write at a term the map does not have: %v", err)
	}
}

func TestDeadFollowerAndRecovery(t *testing.T) {
	maps, nodes := startCluster(t, 2)
	ctx := context.Background()
	if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(1, 1), true); err != nil {
		t.Fatal(err)
	}
	// Node 3 stops answering: writes still reach 2 of 3, and the primary
	// marks node 3 Dead.
	nodes[3].down.Store(true)
	for i := uint64(2); i <= 20; i++ {
		if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(i, float32(i)), true); err != nil {
			t.Fatalf("write %d with one follower down: %v", i, err)
		}
	}
	eventually(t, "node 3 marked dead", func() bool { return maps.state(3) == shoalv1.ReplicaState_REPLICA_STATE_DEAD })

	// It comes back and is set Partial (the controller's job): the primary
	// catches it up from its log and sets it Active.
	nodes[3].down.Store(false)
	maps.setState(t, 3, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
	eventually(t, "node 3 active again", func() bool { return maps.state(3) == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE })
	eventually(t, "equal digests", func() bool { return digest(t, nodes[3]) == digest(t, nodes[1]) })
}

func TestDivergedFollowerGetsAFullCopy(t *testing.T) {
	maps, nodes := startCluster(t, 2)
	ctx := context.Background()
	for i := uint64(1); i <= 10; i++ {
		if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(i, float32(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "node 3 has the writes", func() bool { return digest(t, nodes[3]) == digest(t, nodes[1]) })
	// Failover to node 2 at term 2; node 1, the old primary, is cut off
	// and still logs a write of its own at term 1: its log diverges.
	_, err := maps.update(ctx, "c", "u", func(m *shoalv1.ShardMap) (bool, error) {
		sh := m.Shards[0]
		sh.Primary, sh.Term = 2, 2
		cluster.FindReplica(sh, 1).State = shoalv1.ReplicaState_REPLICA_STATE_DEAD
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := nodes[1].reps.Replica(ctx, ref)
	if _, err := r1.Apply(ctx, upsert(100, 5), true); err != nil {
		t.Fatal(err)
	}
	for i := uint64(11); i <= 15; i++ {
		var err error
		eventually(t, "node 2 takes writes at term 2", func() bool {
			_, err = nodes[2].coord.Write(ctx, ref, 2, upsert(i, float32(i)), true)
			return err == nil
		})
	}
	// A write the old primary still coordinates at term 1 is refused: the
	// followers follow term 2.
	if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(200, 1), true); !errors.Is(err, ErrNotPrimary) {
		t.Fatalf("write through the old primary: %v", err)
	}
	maps.setState(t, 1, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
	eventually(t, "node 1 active again", func() bool { return maps.state(1) == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE })
	eventually(t, "equal digests", func() bool { return digest(t, nodes[1]) == digest(t, nodes[2]) })
	if d := digest(t, nodes[1]); d.Points != 15 {
		t.Fatalf("node 1 after the full copy: %+v", d)
	}
}

func TestTooFewReplicas(t *testing.T) {
	maps, nodes := startCluster(t, 3)
	maps.setState(t, 2, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
	eventually(t, "primary sees node 2 dead", func() bool {
		nodes[1].coord.mu.Lock()
		defer nodes[1].coord.mu.Unlock()
		g := nodes[1].coord.groups[groupKey{"c", "u", 0}]
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.followers) == 1
	})
	_, err := nodes[1].coord.Write(context.Background(), ref, 1, upsert(1, 1), true)
	if !errors.Is(err, ErrConsistency) {
		t.Fatalf("write with 2 of 3 active and factor 3: %v", err)
	}
	if d := digest(t, nodes[1]); d.Points != 0 {
		t.Fatalf("refused write was applied: %+v", d)
	}
}

func TestRateLimit(t *testing.T) {
	c := New(Config{NodeID: 1, Maps: &memMaps{changed: make(chan struct{})}, UpdateRateLimit: 1})
	c.slots <- struct{}{} // one write in progress
	_, err := c.Write(context.Background(), ref, 1, upsert(1, 1), true)
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("second concurrent write: %v", err)
	}
}

func TestUnfinishedFullCopyIsRedone(t *testing.T) {
	maps, nodes := startCluster(t, 2)
	ctx := context.Background()
	for i := uint64(1); i <= 10; i++ {
		if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(i, float32(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	maps.setState(t, 3, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
	eventually(t, "shipper to node 3 stopped", func() bool {
		nodes[1].coord.mu.Lock()
		defer nodes[1].coord.mu.Unlock()
		_, ok := nodes[1].coord.groups[groupKey{"c", "u", 0}].followers[3]
		return !ok
	})
	// A full copy to node 3 starts and never ends (its sender died), and
	// node 3 restarts: the half-filled replica is marked as such.
	if err := nodes[3].coord.Install(ctx, &shoalv1.InstallRequest{Shard: ref, Term: 1, Primary: 1, Session: "s1", First: true,
		Points: []*shoalv1.Point{{Id: pointid.Num(1), Version: 1, Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{1, 1}}}}}}); err != nil {
		t.Fatal(err)
	}
	nodes[3].coord.installs.mu.Lock()
	delete(nodes[3].coord.installs.sessions, groupKey{"c", "u", 0})
	nodes[3].coord.installs.mu.Unlock()
	r3, _ := nodes[3].reps.Replica(ctx, ref)
	if !r3.Installing() {
		t.Fatal("replica not marked as holding an unfinished copy")
	}
	// Back in service: the primary sends a new full copy.
	maps.setState(t, 3, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
	eventually(t, "node 3 active again", func() bool { return maps.state(3) == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE })
	eventually(t, "equal digests", func() bool { return digest(t, nodes[3]) == digest(t, nodes[1]) })
}

// TestHandOverLosesNothing: with write_consistency_factor 1 and a writer
// running, a hand-over of the primary role (the map's handover_to) makes
// the target primary with a new term only once it holds every write the
// old primary acknowledged.
func TestHandOverLosesNothing(t *testing.T) {
	maps, nodes := startCluster(t, 1)
	ctx := context.Background()
	var mu sync.Mutex
	acked := map[uint64]bool{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for id := uint64(1); ; id++ {
			select {
			case <-stop:
				return
			default:
			}
			_, m, _ := maps.Collection("c")
			sh := m.GetShards()[0]
			if _, err := nodes[sh.GetPrimary()].coord.Write(ctx, ref, sh.GetTerm(), upsert(id, float32(id)), false); err == nil {
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}
	}()
	eventually(t, "some writes", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) > 50 })
	if _, err := maps.update(ctx, "c", "u", func(m *shoalv1.ShardMap) (bool, error) {
		m.Shards[0].HandoverTo = 2
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 2 primary at term 2", func() bool {
		_, m, _ := maps.Collection("c")
		sh := m.GetShards()[0]
		return sh.GetPrimary() == 2 && sh.GetTerm() == 2 && sh.GetHandoverTo() == 0
	})
	n := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	before := n()
	eventually(t, "writes through the new primary", func() bool { return n() > before+20 })
	close(stop)
	<-done
	r2, _ := nodes[2].reps.Replica(ctx, ref)
	mu.Lock()
	defer mu.Unlock()
	for id := range acked {
		pts, err := r2.Get(ctx, []*shoalv1.PointID{pointid.Num(id)}, false, nil)
		if err != nil || len(pts) != 1 {
			t.Fatalf("acknowledged point %d missing on the new primary (%v)", id, err)
		}
	}
	eventually(t, "equal digests", func() bool { return digest(t, nodes[1]) == digest(t, nodes[2]) })
}
