package replication

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/transfer"
)

// withStreams gives every node a transfer sender and receiver on one
// in-process NATS server, with full copies by method (automatic: "").
func withStreams(t testing.TB, method string) nodeOption {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return func(t testing.TB, id uint64, cfg *Config) func(*Coordinator) {
		nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		cfg.Streamer = transfer.NewSender(nc, id, transfer.SenderOptions{}, zerolog.Nop())
		cfg.DefaultMethod = method
		cfg.SnapshotPoints = 100
		rcv, err := transfer.NewReceiver(nc, id, t.TempDir(), transfer.ReceiverOptions{}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rcv.Close() })
		return func(c *Coordinator) {
			rcv.Handle(KindSnapshot, c.ReceiveSnapshot)
			rcv.Handle(KindRecords, c.ReceiveRecords)
		}
	}
}

// lastCopy returns the newest finished recovery of node to.
func lastCopy(c *Coordinator, to uint64) (CopyReport, bool) {
	cs := c.Copies()
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].To == to && cs[i].Err == nil {
			return cs[i], true
		}
	}
	return CopyReport{}, false
}

// writer upserts points through the primary until stopped and returns
// the ids it had acknowledged.
func writer(t *testing.T, n *testNode, from uint64) (stop func() []uint64) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		acked []uint64
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for id := from; ctx.Err() == nil; id++ {
			if _, err := n.coord.Write(ctx, ref, 1, upsert(id, float32(id)), true); err == nil {
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}
	}()
	return func() []uint64 {
		cancel()
		wg.Wait()
		return acked
	}
}

// TestFullCopyMethods: node 3 loses its replica (an empty one in its
// place, as for a new replica) while a writer keeps writing; the primary
// sends it a full copy by the configured method over the transfer wire,
// then the log after it, and node 3 ends with the primary's content.
func TestFullCopyMethods(t *testing.T) {
	f := func(method, want string) {
		t.Run(want+"/"+method, func(t *testing.T) {
			maps, nodes := startCluster(t, 2, withStreams(t, method))
			ctx := context.Background()
			for b := uint64(0); b < 20; b++ {
				op := &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{}}}
				for i := b*100 + 1; i <= b*100+100; i++ {
					op.GetUpsert().Points = append(op.GetUpsert().Points, upsert(i, float32(i)).GetUpsert().GetPoints()...)
				}
				if _, err := nodes[1].coord.Write(ctx, ref, 1, op, true); err != nil {
					t.Fatal(err)
				}
			}
			maps.setState(t, 3, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
			if _, err := nodes[3].reps.Reset(ctx, ref); err != nil {
				t.Fatal(err)
			}
			stop := writer(t, nodes[1], 10_000)
			maps.setState(t, 3, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
			eventually(t, "node 3 active again", func() bool { return maps.state(3) == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE })
			acked := stop()
			eventually(t, "equal digests", func() bool { return digest(t, nodes[3]) == digest(t, nodes[1]) })
			r3, _ := nodes[3].reps.Replica(ctx, ref)
			for _, id := range acked {
				if pts, err := r3.Get(ctx, []*shoalv1.PointID{pointid.Num(id)}, false, nil); err != nil || len(pts) != 1 {
					t.Fatalf("acknowledged point %d missing on node 3 (%v)", id, err)
				}
			}
			rep, ok := lastCopy(nodes[1].coord, 3)
			if !ok || rep.Method != want {
				t.Fatalf("recovery of node 3: %+v (found %v), want method %s", rep, ok, want)
			}
			// A snapshot counts the file's bytes; a stream of records at
			// least the 2000 points stored before it (records written
			// after the copy add to either).
			if want == MethodSnapshot && rep.Bytes == 0 || want == MethodStreamRecords && rep.Records < 2000 {
				t.Fatalf("recovery of node 3 reports too little sent: %+v", rep)
			}
		})
	}
	f(MethodSnapshot, MethodSnapshot)
	f(MethodStreamRecords, MethodStreamRecords)
	f("", MethodSnapshot) // 2000 points >= SnapshotPoints (100)
}

// TestDeadFollowerCaughtUpByWALDelta: a follower that missed writes while
// down gets only the records it missed.
func TestDeadFollowerCaughtUpByWALDelta(t *testing.T) {
	maps, nodes := startCluster(t, 2, withStreams(t, ""))
	ctx := context.Background()
	for i := uint64(1); i <= 500; i++ {
		if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(i, float32(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "node 3 has the writes", func() bool { return digest(t, nodes[3]) == digest(t, nodes[1]) })
	nodes[3].down.Store(true)
	for i := uint64(501); i <= 520; i++ {
		if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(i, float32(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "node 3 marked dead", func() bool { return maps.state(3) == shoalv1.ReplicaState_REPLICA_STATE_DEAD })
	nodes[3].down.Store(false)
	maps.setState(t, 3, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
	eventually(t, "node 3 active again", func() bool { return maps.state(3) == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE })
	eventually(t, "equal digests", func() bool { return digest(t, nodes[3]) == digest(t, nodes[1]) })
	rep, ok := lastCopy(nodes[1].coord, 3)
	if !ok || rep.Method != MethodWALDelta || rep.Records < 1 || rep.Records > 20 {
		t.Fatalf("recovery of node 3: %+v (found %v), want wal_delta of at most the 20 missed records", rep, ok)
	}
}

// TestDivergentTailForcesSnapshot: wal_delta asked for, but the target's
// log diverges (it was a deposed primary): the copy is a snapshot, and
// the report says why.
func TestDivergentTailForcesSnapshot(t *testing.T) {
	maps, nodes := startCluster(t, 2, withStreams(t, MethodWALDelta))
	ctx := context.Background()
	for i := uint64(1); i <= 10; i++ {
		if _, err := nodes[1].coord.Write(ctx, ref, 1, upsert(i, float32(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "node 3 has the writes", func() bool { return digest(t, nodes[3]) == digest(t, nodes[1]) })
	_, err := maps.update(ctx, "c", "u", func(m *shoalv1.ShardMap) (bool, error) {
		sh := m.Shards[0]
		sh.Primary, sh.Term = 2, 2
		for _, r := range sh.Replicas {
			if r.NodeId == 1 {
				r.State = shoalv1.ReplicaState_REPLICA_STATE_DEAD
			}
		}
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
		eventually(t, "node 2 takes writes at term 2", func() bool {
			_, err := nodes[2].coord.Write(ctx, ref, 2, upsert(i, float32(i)), true)
			return err == nil
		})
	}
	maps.setState(t, 1, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
	eventually(t, "node 1 active again", func() bool { return maps.state(1) == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE })
	eventually(t, "equal digests", func() bool { return digest(t, nodes[1]) == digest(t, nodes[2]) })
	rep, ok := lastCopy(nodes[2].coord, 1)
	if !ok || rep.Method != MethodSnapshot || !strings.Contains(rep.Note, "wal_delta not possible") {
		t.Fatalf("recovery of node 1: %+v (found %v)", rep, ok)
	}
	if d := digest(t, nodes[1]); d.Points != 15 {
		t.Fatalf("node 1 after the snapshot: %+v", d)
	}
}
