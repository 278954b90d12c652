package container

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testScaleStorage adds two replicas of the scalable storage service
// (profile "scale"), checks that they register under their container
// hostnames and that the meta controller rebalances replicas onto them
// without any call (counts per node even ±1), that a new collection
// serves reads and writes through both routers, then scales in the way
// docs/DEPLOYMENT.md says: drain both nodes, remove them from the cluster
// (DELETE /cluster/peer/{id}), stop their containers.
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
	eventually(t, "replicas rebalanced onto the new nodes", 3*time.Minute, func() error {
		per, err := replicasPerPeer(e.r1)
		if err != nil {
			return err
		}
		lo, hi := 1<<30, 0
		for _, n := range per {
			lo, hi = min(lo, n), max(hi, n)
		}
		for _, id := range ids {
			if per[peerOf[id]] == 0 {
				return fmt.Errorf("new node %d holds no replica yet: %v", peerOf[id], per)
			}
		}
		if len(per) != 5 || hi-lo > 1 {
			return fmt.Errorf("replicas per node %v not even", per)
		}
		return nil
	})

	const coll = "scaled"
	if err := e.r2.do("PUT", "/collections/"+coll, map[string]any{
		"vectors": map[string]any{"size": dim, "distance": "Cosine"}, "shard_number": 2, "replication_factor": 1,
	}, nil); err != nil {
		t.Fatal(err)
	}
	// The other router sees the activated shard map a moment later.
	eventually(t, "the new collection's replicas active on router-1", 30*time.Second, func() error {
		_, err := replicaPeers(e.r1, coll)
		return err
	})
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

	// Back to three storage nodes: drain, remove, stop.
	if err := e.r1.do("DELETE", "/collections/"+coll, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := e.r1.do("POST", fmt.Sprintf("/cluster/peer/%d/drain", peerOf[id]), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "scaled nodes drained", 3*time.Minute, func() error {
		per, err := replicasPerPeer(e.r1)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if per[peerOf[id]] > 0 {
				return fmt.Errorf("node %d still holds %d replicas", peerOf[id], per[peerOf[id]])
			}
		}
		return nil
	})
	for _, id := range ids {
		if err := e.r2.do("DELETE", fmt.Sprintf("/cluster/peer/%d", peerOf[id]), nil, nil); err != nil {
			t.Fatal(err)
		}
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

// replicasPerPeer counts the replicas per storage peer (the peers that
// hold any) over every collection; it fails while a replica is not Active
// or a transfer runs.
func replicasPerPeer(r *rest) (map[uint64]int, error) {
	var list struct {
		Collections []struct {
			Name string `json:"name"`
		} `json:"collections"`
	}
	if err := r.do("GET", "/collections", nil, &list); err != nil {
		return nil, err
	}
	per := map[uint64]int{} // peers holding at least one replica
	for _, c := range list.Collections {
		var info struct {
			Transfers []any `json:"shard_transfers"`
		}
		if err := r.do("GET", "/collections/"+c.Name+"/cluster", nil, &info); err != nil {
			return nil, err
		}
		if len(info.Transfers) > 0 {
			return nil, fmt.Errorf("%s: %d transfers running", c.Name, len(info.Transfers))
		}
		shards, err := replicaPeers(r, c.Name)
		if err != nil {
			return nil, err
		}
		for _, peers := range shards {
			for _, p := range peers {
				per[p]++
			}
		}
	}
	return per, nil
}
