package container

import (
	"fmt"
	"testing"
	"time"
)

const (
	seedCollection = "my_collection" // the seed's example: 6 shards, 2 replicas each
	dim            = 384
)

// TestComposeCluster runs the whole container scenario on one cluster:
// the seed's example over REST (and gRPC when served), the cluster view,
// scaling storage, then the faults. Each step depends on the ones before.
func TestComposeCluster(t *testing.T) {
	e := start(t)
	steps := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"SeedREST", testSeedREST},
		{"ClusterView", testClusterView},
		{"Version", testVersion},
		{"SeedGRPC", testSeedGRPC},
		{"ScaleStorage", testScaleStorage},
		{"KillStorage", testKillStorage},
		{"PauseMetaLeader", testPauseMetaLeader},
		{"DisconnectStorage", testDisconnectStorage},
		{"RestartAll", testRestartAll},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.fn(t, e) }) {
			t.Fatalf("step %s failed; later steps need it", s.name)
		}
	}
}

// searchSelf searches each point's own vector and expects the point as the
// best hit: vectors are random in 384 dimensions, so the nearest
// neighbour of a stored vector is the point itself.
func searchSelf(r *rest, collection string, pts []point) error {
	for _, p := range pts {
		var hits []scored
		if err := r.do("POST", "/collections/"+collection+"/points/search", map[string]any{"vector": p.Vector, "limit": 3}, &hits); err != nil {
			return err
		}
		if len(hits) == 0 || hits[0].ID != p.ID || hits[0].Score < 0.999 {
			return fmt.Errorf("search for point %d's vector in %s: best hits %+v", p.ID, collection, hits)
		}
	}
	return nil
}

// count is POST /points/count (exact).
func count(r *rest, collection string) (int, error) {
	var res struct {
		Count int `json:"count"`
	}
	err := r.do("POST", "/collections/"+collection+"/points/count", map[string]any{"exact": true}, &res)
	return res.Count, err
}

// replicaPeers returns shard id -> peer ids of a collection's replicas.
func replicaPeers(r *rest, collection string) (map[int][]uint64, error) {
	var info struct {
		ShardCount   int `json:"shard_count"`
		RemoteShards []struct {
			ShardID int    `json:"shard_id"`
			PeerID  uint64 `json:"peer_id"`
			State   string `json:"state"`
		} `json:"remote_shards"`
	}
	if err := r.do("GET", "/collections/"+collection+"/cluster", nil, &info); err != nil {
		return nil, err
	}
	out := map[int][]uint64{}
	for _, s := range info.RemoteShards {
		if s.State != "Active" {
			return nil, fmt.Errorf("%s shard %d on peer %d is %s", collection, s.ShardID, s.PeerID, s.State)
		}
		out[s.ShardID] = append(out[s.ShardID], s.PeerID)
	}
	return out, nil
}

// seedPoints are the points the seed step writes (and later steps check).
var seedPoints = makePoints(1, 300, dim, "seed", 1)

func testSeedREST(t *testing.T, e *env) {
	err := e.r1.do("PUT", "/collections/"+seedCollection, map[string]any{
		"vectors":      map[string]any{"size": dim, "distance": "Cosine"},
		"shard_number": 6, "replication_factor": 2,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := replicaPeers(e.r1, seedCollection)
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 6 {
		t.Fatalf("%d shards, want 6: %v", len(shards), shards)
	}
	for id, peers := range shards {
		if len(peers) != 2 || peers[0] == peers[1] {
			t.Fatalf("shard %d on peers %v, want 2 distinct", id, peers)
		}
	}
	// Three batches, alternating routers.
	for i, r := range []*rest{e.r1, e.r2, e.r1} {
		if err := e.ledger.upsert(r, seedCollection, seedPoints[i*100:(i+1)*100]); err != nil {
			t.Fatal(err)
		}
	}
	if err := searchSelf(e.r1, seedCollection, seedPoints[:1]); err != nil {
		t.Fatal(err)
	}
	t.Logf("cold start: compose up to the first successful search: %v", time.Since(e.upAt).Round(100*time.Millisecond))
	for _, r := range []*rest{e.r1, e.r2} {
		if err := searchSelf(r, seedCollection, sample(seedPoints, 15)); err != nil {
			t.Fatal(err)
		}
		n, err := count(r, seedCollection)
		if err != nil || n != len(seedPoints) {
			t.Fatalf("count = %d, %v; want %d", n, err, len(seedPoints))
		}
	}
	if n, err := e.ledger.verify(e.r2); err != nil {
		t.Fatalf("after %d points: %v", n, err)
	}
}

// sample returns about n points spread over pts.
func sample(pts []point, n int) []point {
	step := max(len(pts)/n, 1)
	var out []point
	for i := 0; i < len(pts); i += step {
		out = append(out, pts[i])
	}
	return out
}
