package replication

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// benchTransferMB is the replica size the transfer benchmark builds
// (SHOAL_BENCH_TRANSFER_MB, default 64).
func benchTransferMB() int {
	if v, err := strconv.Atoi(os.Getenv("SHOAL_BENCH_TRANSFER_MB")); err == nil && v > 0 {
		return v
	}
	return 64
}

// BenchmarkShardTransfer measures, on loopback through an in-process NATS
// server, how long a full copy of a replica of SHOAL_BENCH_TRANSFER_MB
// takes by snapshot and by stream_records (MB/s of replica file and
// points/s), and how long a wal_delta recovery of a follower that missed
// 1 % of the points takes, as a ratio of the snapshot copy's time. Run
// with -benchtime=1x.
func BenchmarkShardTransfer(b *testing.B) {
	const dim = 128
	cfg := &shoalv1.CollectionConfig{
		Vectors:                map[string]*shoalv1.VectorParams{"": {Size: dim, Distance: shoalv1.Distance_DISTANCE_DOT}},
		ShardNumber:            1,
		ReplicationFactor:      3,
		WriteConsistencyFactor: 1,
		// No HNSW build: the benchmark measures the copy, not indexing.
		ExtraJson: []byte(`{"optimizers_config":{"indexing_threshold":0}}`),
	}
	for _, method := range []string{MethodSnapshot, MethodStreamRecords} {
		b.Run(method, func(b *testing.B) {
			maps, nodes := startClusterWith(b, cfg, withStreams(b, method))
			ctx := context.Background()
			maps.setState(b, 2, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
			maps.setState(b, 3, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
			rng := rand.New(rand.NewPCG(1, 2))
			perPoint := dim*4 + 64
			points := benchTransferMB() << 20 / perPoint
			write := func(from, n int) {
				for i := from; i < from+n; i += 1000 {
					op := &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{}}}
					for id := i; id < min(i+1000, from+n); id++ {
						v := make([]float32, dim)
						for j := range v {
							v[j] = rng.Float32()
						}
						op.GetUpsert().Points = append(op.GetUpsert().Points, &shoalv1.Point{
							Id: pointid.Num(uint64(id)), Vectors: map[string]*shoalv1.Vector{"": {Data: v}},
							Payload: []byte(`{"group":"` + strconv.Itoa(id%100) + `"}`),
						})
					}
					if _, err := nodes[1].coord.Write(ctx, ref, 1, op, true); err != nil {
						b.Fatal(err)
					}
				}
			}
			write(1, points)
			r1, _ := nodes[1].reps.Replica(ctx, ref)
			size, _ := statSize(r1.Path())
			recover := func() time.Duration {
				start := time.Now()
				maps.setState(b, 3, shoalv1.ReplicaState_REPLICA_STATE_PARTIAL)
				deadline := time.Now().Add(30 * time.Minute)
				for maps.state(3) != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
					if time.Now().After(deadline) {
						b.Fatal("node 3 did not become active")
					}
					time.Sleep(5 * time.Millisecond)
				}
				return time.Since(start)
			}
			b.ResetTimer()
			full := recover()
			b.StopTimer()
			rep, _ := lastCopy(nodes[1].coord, 3)
			b.ReportMetric(float64(size)/(1<<20)/full.Seconds(), "file-MB/s")
			if method == MethodSnapshot {
				// The stream alone: the copy's time less the target's
				// Restore (CheckSnapshot, moving the file, opening the
				// replica, which loads every vector into memory).
				nodes[3].reps.mu.Lock()
				restore := nodes[3].reps.restoreTook
				nodes[3].reps.mu.Unlock()
				b.ReportMetric(float64(rep.Bytes)/(1<<20)/(full-restore).Seconds(), "stream-MB/s")
				b.ReportMetric(restore.Seconds(), "restore-s")
			}
			b.ReportMetric(float64(points)/full.Seconds(), "points/s")
			b.ReportMetric(float64(size)/(1<<20), "file-MB")
			b.ReportMetric(float64(rep.Bytes)/(1<<20), "sent-MB")
			if rep.Method != method {
				b.Fatalf("copy used %s, want %s", rep.Method, method)
			}
			// wal_delta: node 3 misses 1 % of the points, then returns.
			maps.setState(b, 3, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
			eventually(b, "shipper to node 3 stopped", func() bool {
				nodes[1].coord.mu.Lock()
				defer nodes[1].coord.mu.Unlock()
				_, ok := nodes[1].coord.groups[groupKey{"c", "u", 0}].followers[3]
				return !ok
			})
			write(points+1, points/100)
			delta := recover()
			rep, _ = lastCopy(nodes[1].coord, 3)
			if rep.Method != MethodWALDelta {
				b.Fatalf("1 %% delta recovered by %s", rep.Method)
			}
			b.ReportMetric(delta.Seconds()/full.Seconds(), "wal_delta/full")
		})
	}
}
