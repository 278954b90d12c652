package container

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testScaleStorage adds two replicas of the scalable storage service
// (profile "scale"), checks that they register under their container
// hostnames, that a new collection placed on them serves reads and writes
// through both routers, then removes them again.
func testScaleStorage(t *testing.T, e *env) {
	if _, err := e.p.composeAll(3*time.Minute, "up", "-d", "--no-deps", "--scale", "storage=2", "storage"); err != nil {
		t.Fatalf("scale storage: %v", err)
	}
	ids, err := e.p.containerIDs("storage")
	if err != nil || len(ids) != 2 {
		t.Fatalf("scaled storage containers %v, %v; want 2", ids, err)
	}
	for i, id := range ids {
		e.ids["storage#"+strconv.Itoa(i)] = id
	}
	e.waitHealthy(t, "storage#0", "storage#1")

	// Each new node advertises http://<hostname>:6335, its hostname being
	// the short container id.
	peerOf := map[string]uint64{}
	eventually(t, "scaled nodes registered", time.Minute, func() error {
		var ci clusterInfo
		if err := e.r1.do("GET", "/cluster", nil, &ci); err != nil {
			return err
		}
		for _, id := range ids {
			uri := "http://" + id[:12] + ":6335"
			found := false
			for pid, p := range ci.Peers {
				if p.URI == uri {
					peerOf[id], _ = strconv.ParseUint(pid, 10, 64)
					found = true
				}
			}
			if !found {
				return fmt.Errorf("no peer %s among %v", uri, ci.uris())
			}
		}
		return nil
	})

	const coll = "scaled"
	// Placement takes the least-loaded nodes: the two empty ones first.
	if err := e.r2.do("PUT", "/collections/"+coll, map[string]any{
		"vectors": map[string]any{"size": dim, "distance": "Cosine"}, "shard_number": 2, "replication_factor": 1,
	}, nil); err != nil {
		t.Fatal(err)
	}
	// The other router sees the activated shard map a moment later.
	var shards map[int][]uint64
	eventually(t, "the new collection's replicas active on router-1", 30*time.Second, func() error {
		var err error
		shards, err = replicaPeers(e.r1, coll)
		return err
	})
	var placed []uint64
	for _, peers := range shards {
		placed = append(placed, peers...)
	}
	for _, id := range ids {
		if !slices.Contains(placed, peerOf[id]) {
			t.Fatalf("collection %s placed on %v, want both new nodes %v", coll, placed, peerOf)
		}
	}
	pts := makePoints(1, 80, dim, "scaled", 3)
	if err := e.r2.do("PUT", "/collections/"+coll+"/points?wait=true", map[string]any{"points": pts}, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*rest{e.r1, e.r2} {
		if err := searchSelf(r, coll, sample(pts, 8)); err != nil {
			t.Fatal(err)
		}
		if n, err := count(r, coll); err != nil || n != len(pts) {
			t.Fatalf("count = %d, %v; want %d", n, err, len(pts))
		}
	}

	// Back to three storage nodes.
	if err := e.r1.do("DELETE", "/collections/"+coll, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.composeAll(2*time.Minute, "rm", "-s", "-f", "-v", "storage"); err != nil {
		t.Fatalf("remove scaled storage: %v", err)
	}
	eventually(t, "scaled nodes gone from the cluster", time.Minute, func() error {
		var ci clusterInfo
		if err := e.r1.do("GET", "/cluster", nil, &ci); err != nil {
			return err
		}
		for _, u := range ci.uris() {
			if strings.HasPrefix(u, "http://"+ids[0][:12]) || strings.HasPrefix(u, "http://"+ids[1][:12]) {
				return fmt.Errorf("%s still registered", u)
			}
		}
		return nil
	})
}
