package e2e

import (
	"fmt"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// replicatedPoints returns points from..to with 4-dim vectors and a
// payload.
func replicatedPoints(from, to int) []map[string]any {
	var pts []map[string]any
	for i := from; i <= to; i++ {
		x := float64(i)
		pts = append(pts, map[string]any{"id": i, "vector": []float64{x, 1, x / 2, -x}, "payload": map[string]any{"i": i, "tag": fmt.Sprint("t", i%3)}})
	}
	return pts
}

// digestsAgree reports whether every shard of a collection has want
// replicas, all ACTIVE, all answering with one digest, holding points
// points in total (summed over the shards), and describes what differs.
func digestsAgree(t *testing.T, c *harness.Cluster, collection string, want, points int) (bool, string) {
	t.Helper()
	r := c.Do("GET", "/debug/collections/"+collection+"/digests", nil)
	if r.Status != 200 {
		return false, fmt.Sprintf("digests: %d %s", r.Status, r.Raw)
	}
	total := 0
	for _, s := range list(t, obj(t, r.Result())["shards"]) {
		shard := obj(t, s)
		reps := list(t, shard["replicas"])
		if len(reps) != want || shard["consistent"] != true {
			return false, string(r.Raw)
		}
		digest := ""
		for i, rp := range reps {
			rep := obj(t, rp)
			if rep["state"] != "Active" || rep["error"] != nil {
				return false, string(r.Raw)
			}
			d, _ := rep["digest"].(string)
			if len(d) != 16 || (i > 0 && d != digest) {
				return false, string(r.Raw)
			}
			digest = d
			if i == 0 {
				total += int(num(t, rep["points"]))
			} else if int(num(t, rep["points"])) != int(num(t, obj(t, reps[0])["points"])) {
				return false, string(r.Raw)
			}
		}
	}
	return total == points, fmt.Sprintf("%d points in total, want %d: %s", total, points, r.Raw)
}

// waitDigests waits until digestsAgree holds, and shows the last digests
// if it never does.
func waitDigests(t *testing.T, c *harness.Cluster, collection string, replicas, points int) {
	t.Helper()
	var why string
	defer func() {
		if t.Failed() {
			t.Logf("last digests of %s: %s", collection, why)
		}
	}()
	eventually(t, "equal digests on every replica of "+collection, func() bool {
		var agree bool
		agree, why = digestsAgree(t, c, collection, replicas, points)
		return agree
	})
}

func TestReplicationWritesReachEveryReplica(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/r", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 2, "replication_factor": 3, "write_consistency_factor": 2,
	})
	eventually(t, "every replica active", func() bool {
		res := obj(t, ok(t, c, "GET", "/collections/r/cluster", nil))
		shards := list(t, res["remote_shards"])
		for _, s := range shards {
			if obj(t, s)["state"] != "Active" {
				return false
			}
		}
		return len(shards) == 6
	})
	for from := 1; from <= 200; from += 50 {
		ok(t, c, "PUT", "/collections/r/points?wait=true", map[string]any{"points": replicatedPoints(from, from+49)})
	}
	ok(t, c, "POST", "/collections/r/points/delete?wait=true", map[string]any{"points": []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}})
	ok(t, c, "POST", "/collections/r/points/payload?wait=true", map[string]any{"payload": map[string]any{"extra": true}, "points": []any{11, 12, 13}})
	ok(t, c, "POST", "/collections/r/points/payload/delete?wait=true", map[string]any{"keys": []string{"tag"}, "points": []any{20, 21}})

	waitDigests(t, c, "r", 3, 190)

	for _, level := range []string{"all", "majority", "quorum", "3"} {
		q := "?consistency=" + level
		if n := num(t, obj(t, ok(t, c, "POST", "/collections/r/points/count"+q, map[string]any{}))["count"]); n != 190 {
			t.Fatalf("%s: count %v", level, n)
		}
		got := list(t, ok(t, c, "POST", "/collections/r/points"+q, map[string]any{"ids": []any{5, 11, 20, 150}, "with_payload": true}))
		if len(got) != 3 {
			t.Fatalf("%s: retrieve %v", level, got)
		}
		for _, p := range got {
			pt := obj(t, p)
			pl := obj(t, pt["payload"])
			switch num(t, pt["id"]) {
			case 11:
				if pl["extra"] != true {
					t.Fatalf("%s: point 11 without the set payload: %v", level, pt)
				}
			case 20:
				if _, has := pl["tag"]; has {
					t.Fatalf("%s: point 20 kept a deleted payload key: %v", level, pt)
				}
			}
		}
		page := obj(t, ok(t, c, "POST", "/collections/r/points/scroll"+q, map[string]any{"limit": 300}))
		if n := len(list(t, page["points"])); n != 190 {
			t.Fatalf("%s: scroll %d points", level, n)
		}
		hits := ids(t, ok(t, c, "POST", "/collections/r/points/search"+q, map[string]any{"vector": []float64{1, 0, 0, 0}, "limit": 3}))
		if hits != "200 199 198" {
			t.Fatalf("%s: search %s", level, hits)
		}
		res := obj(t, ok(t, c, "POST", "/collections/r/points/query"+q, map[string]any{"query": []float64{1, 0, 0, 0}, "limit": 2}))
		if s := ids(t, res["points"]); s != "200 199" {
			t.Fatalf("%s: query %s", level, s)
		}
	}
	fails(t, c, "POST", "/collections/r/points/count?consistency=most", map[string]any{}, 400, "consistency")
	fails(t, c, "POST", "/collections/r/points/count?consistency=4", map[string]any{}, 503, "Read consistency `4` needs 4 replicas")
}

// TestReplicationSurvivesANodeLoss is the seed's write ordering and read
// consistency behaviour: with one of three replicas' nodes stopped,
// wait=true writes with write_consistency_factor 2 succeed (after a
// failover when the node held a primary) and majority reads answer; once
// the node is back its replicas catch up and all digests agree again.
func TestReplicationSurvivesANodeLoss(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/r", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 3, "replication_factor": 3, "write_consistency_factor": 2,
	})
	eventually(t, "every replica active", func() bool {
		shards := list(t, obj(t, ok(t, c, "GET", "/collections/r/cluster", nil))["remote_shards"])
		for _, s := range shards {
			if obj(t, s)["state"] != "Active" {
				return false
			}
		}
		return len(shards) == 9
	})
	ok(t, c, "PUT", "/collections/r/points?wait=true", map[string]any{"points": replicatedPoints(1, 100)})

	c.StopStorage(1)
	// Shards whose primary was on the stopped node take writes again after
	// the failover; the router waits for it within the request.
	ok(t, c, "PUT", "/collections/r/points?wait=true", map[string]any{"points": replicatedPoints(101, 150)})
	if n := num(t, obj(t, ok(t, c, "POST", "/collections/r/points/count?consistency=majority", map[string]any{}))["count"]); n != 150 {
		t.Fatalf("majority count with a node down: %v", n)
	}
	got := list(t, ok(t, c, "POST", "/collections/r/points?consistency=majority", map[string]any{"ids": []any{1, 50, 101, 150}}))
	if len(got) != 4 {
		t.Fatalf("majority retrieve with a node down: %v", got)
	}

	c.StartStorage(1)
	waitDigests(t, c, "r", 3, 150)
	if n := num(t, obj(t, ok(t, c, "POST", "/collections/r/points/count?consistency=all", map[string]any{}))["count"]); n != 150 {
		t.Fatalf("count after recovery: %v", n)
	}
}
