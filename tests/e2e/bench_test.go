//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/tests/harness"
	"google.golang.org/protobuf/proto"
)

// BenchmarkSearchPath measures the router's overhead: the same search
// (10 000 points of 64 dimensions, Cosine, one shard on one storage node,
// top 10) sent straight to the storage node's internal API, through the
// router's REST API and through its gRPC API with the official client,
// by 1 and by 8 concurrent clients (goroutines sharing b.N). Besides
// ns/op (1/QPS) it reports the median latency (p50-µs) and the CPU time
// of the whole process per search (cpu-µs/op: user and system time, all
// tiers and the clients together, since they share the process). CPU per
// search is steadier than QPS on a shared machine; the difference between
// a path's cpu-µs/op and direct's is the router's cost plus its client's.
// Run with:
//
//	go test ./tests/e2e -run '^$' -bench SearchPath -benchtime 3s
func BenchmarkSearchPath(b *testing.B) {
	c := harness.Start(b, harness.Options{StorageNodes: 1})
	const dim, n = 64, 10000
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	c.MustOK("PUT", "/collections/bench", map[string]any{"vectors": map[string]any{"size": dim, "distance": "Cosine"}, "shard_number": 1})
	for start := 0; start < n; start += 1000 {
		var pts []map[string]any
		for i := start; i < start+1000; i++ {
			pts = append(pts, map[string]any{"id": i, "vector": vec()})
		}
		c.MustOK("PUT", "/collections/bench/points?wait=true", map[string]any{"points": pts})
	}
	queries := make([][]float32, 256)
	for i := range queries {
		queries[i] = vec()
	}

	resp, err := c.Meta[0].Client().Get(context.Background(), cluster.CollectionKey("bench"))
	if err != nil || len(resp.Kvs) != 1 {
		b.Fatalf("read the collection: %v", err)
	}
	coll := &shoalv1.Collection{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, coll); err != nil {
		b.Fatal(err)
	}
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	// Like the router's clients, the direct client does not accept gzip:
	// both paths get the storage node's answer uncompressed.
	direct := shoalv1connect.NewStorageServiceClient(&http.Client{Transport: &http.Transport{Protocols: h2c}}, c.Storage[0].URL(),
		connect.WithAcceptCompression("gzip", nil, nil))
	ref := &shoalv1.ShardRef{Collection: "bench", Uid: coll.GetUid(), ShardId: 0}
	grpcClient := newGRPCClient(b, c)
	restClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	ctx := context.Background()

	// run spreads b.N searches over exactly `clients` goroutines.
	run := func(b *testing.B, clients int, search func(q []float32) error) {
		var next atomic.Int64
		lat := make([][]time.Duration, clients)
		var wg sync.WaitGroup
		cpu0 := processCPU(b)
		b.ResetTimer()
		for g := 0; g < clients; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
					start := time.Now()
					if err := search(queries[int(i)%len(queries)]); err != nil {
						b.Error(err)
						return
					}
					lat[g] = append(lat[g], time.Since(start))
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		all := slices.Concat(lat...)
		slices.Sort(all)
		if len(all) > 0 {
			b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		}
	}
	paths := []struct {
		name   string
		search func(q []float32) error
	}{
		{"direct", func(q []float32) error {
			_, err := direct.Search(ctx, connect.NewRequest(&shoalv1.SearchRequest{Shard: ref, Vector: &shoalv1.Vector{Data: q}, Limit: 10}))
			return err
		}},
		{"rest", func(q []float32) error { return restSearch(restClient, c.URL, q) }},
		{"grpc", func(q []float32) error {
			_, err := grpcClient.Query(ctx, &qdrant.QueryPoints{CollectionName: "bench", Query: qdrant.NewQuery(q...), Limit: qdrant.PtrOf(uint64(10))})
			return err
		}},
	}
	for _, clients := range []int{1, 8} {
		for _, p := range paths {
			b.Run(fmt.Sprintf("%s/clients=%d", p.name, clients), func(b *testing.B) { run(b, clients, p.search) })
		}
	}
}

// restSearch sends one search through the REST API and requires a 200.
func restSearch(cl *http.Client, base string, q []float32) error {
	body, err := json.Marshal(map[string]any{"vector": q, "limit": 10})
	if err != nil {
		return err
	}
	resp, err := cl.Post(base+"/collections/bench/points/search", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("search: status %d", resp.StatusCode)
	}
	return nil
}

// processCPU is the user plus system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
