package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/tests/harness"
)

func testNamedVectors(t *testing.T, c *harness.Cluster) {
	ok(t, c, "PUT", "/collections/named", map[string]any{"vectors": map[string]any{
		"image": map[string]any{"size": 2, "distance": "Dot"},
		"text":  map[string]any{"size": 3, "distance": "Cosine"},
	}})
	defer ok(t, c, "DELETE", "/collections/named", nil)
	params := obj(t, obj(t, obj(t, ok(t, c, "GET", "/collections/named", nil))["config"])["params"])
	if v := obj(t, obj(t, params["vectors"])["text"]); num(t, v["size"]) != 3 || v["distance"] != "Cosine" {
		t.Fatalf("named vectors config: %v", params)
	}
	ok(t, c, "PUT", "/collections/named/points?wait=true", `{"points": [
		{"id": 1, "vector": {"image": [1, 0], "text": [1, 0, 0]}},
		{"id": 2, "vector": {"image": [0, 1]}}
	]}`)
	ok(t, c, "PUT", "/collections/named/points?wait=true", `{"batch": {"ids": [3], "vectors": {"image": [[1, 1]], "text": [[0, 0, 1]]}}}`)
	fails(t, c, "PUT", "/collections/named/points", `{"points": [{"id": 9, "vector": [1, 0]}]}`, 400, "Not existing vector name error")
	fails(t, c, "PUT", "/collections/named/points", `{"points": [{"id": 9, "vector": {"text": [1, 0]}}]}`, 400, "expected dim: 3, got 2")

	got := list(t, ok(t, c, "POST", "/collections/named/points", map[string]any{"ids": []any{1}, "with_vector": []string{"text"}}))
	vec := obj(t, obj(t, got[0])["vector"])
	if len(vec) != 1 || len(list(t, vec["text"])) != 3 {
		t.Fatalf("with_vector [text]: %v", got)
	}
	hits := ok(t, c, "POST", "/collections/named/points/search", map[string]any{"vector": map[string]any{"name": "image", "vector": []float64{1, 0.1}}, "limit": 3})
	if s := ids(t, hits); s != "3 1 2" {
		t.Fatalf("named search: %s", s)
	}
	res := obj(t, ok(t, c, "POST", "/collections/named/points/query", map[string]any{"query": []float64{0, 0, 1}, "using": "text", "limit": 1}))
	if s := ids(t, res["points"]); s != "3" {
		t.Fatalf("named query: %s", s)
	}
	fails(t, c, "POST", "/collections/named/points/search", map[string]any{"vector": map[string]any{"name": "audio", "vector": []float64{1}}, "limit": 1}, 400, "Not existing vector name error: audio")
	fails(t, c, "POST", "/collections/named/points/search", map[string]any{"vector": []float64{1, 0}, "limit": 1}, 400, "Not existing vector name error")
}

func testSearch(t *testing.T, c *harness.Cluster) {
	for _, tc := range []struct {
		distance string
		want     string // ids nearest to (3.2, 0) first
	}{
		{"Euclid", "3 4 2 5 1"},
		{"Manhattan", "3 4 2 5 1"},
		{"Dot", "10 9 8 7 6"},
	} {
		name := "search-" + strings.ToLower(tc.distance)
		ok(t, c, "PUT", "/collections/"+name, map[string]any{"vectors": map[string]any{"size": 2, "distance": tc.distance}, "shard_number": 3})
		ok(t, c, "PUT", "/collections/"+name+"/points?wait=true", map[string]any{"points": linePoints(10)})
		hits := ok(t, c, "POST", "/collections/"+name+"/points/search", map[string]any{"vector": []float64{3.2, 0}, "top": 5})
		if s := ids(t, hits); s != tc.want {
			t.Fatalf("%s: search order %s, want %s", tc.distance, s, tc.want)
		}
		h := obj(t, list(t, hits)[0])
		if h["payload"] != nil || h["vector"] != nil {
			t.Fatalf("%s: search returns payload/vector by default: %v", tc.distance, h)
		}
		if _, has := h["version"]; !has {
			t.Fatalf("%s: hit without version: %v", tc.distance, h)
		}
		scores := list(t, hits)
		for i := 1; i < len(scores); i++ {
			a, b := num(t, obj(t, scores[i-1])["score"]), num(t, obj(t, scores[i])["score"])
			if (tc.distance == "Dot" && a < b) || (tc.distance != "Dot" && a > b) {
				t.Fatalf("%s: scores out of order: %v", tc.distance, hits)
			}
		}
		// offset + limit page through the same order.
		page := ok(t, c, "POST", "/collections/"+name+"/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 2, "offset": 2, "with_payload": true, "with_vector": true})
		want := strings.Fields(tc.want)
		if s := ids(t, page); s != want[2]+" "+want[3] {
			t.Fatalf("%s: offset page %s", tc.distance, s)
		}
		h = obj(t, list(t, page)[0])
		if obj(t, h["payload"])["i"] == nil || len(list(t, h["vector"])) != 2 {
			t.Fatalf("%s: with_payload/with_vector: %v", tc.distance, h)
		}
		ok(t, c, "DELETE", "/collections/"+name, nil)
	}

	ok(t, c, "PUT", "/collections/search", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "shard_number": 2})
	defer ok(t, c, "DELETE", "/collections/search", nil)
	ok(t, c, "PUT", "/collections/search/points?wait=true", map[string]any{"points": linePoints(10)})
	// score_threshold: for a distance, at most the threshold.
	hits := ok(t, c, "POST", "/collections/search/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 10, "score_threshold": 1.0})
	if s := ids(t, hits); s != "3 4" {
		t.Fatalf("score_threshold: %s", s)
	}
	hits = ok(t, c, "POST", "/collections/search/points/search", map[string]any{"vector": []float64{3.2, 0}, "limit": 3, "params": map[string]any{"exact": true, "hnsw_ef": 64}})
	if s := ids(t, hits); s != "3 4 2" {
		t.Fatalf("exact search: %s", s)
	}
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": [1, 2, 3], "limit": 1}`, 400, "Vector dimension error: expected dim: 2, got 3")
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": [1, 2]}`, 400, "missing field `limit`")
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": [1, 2], "limit": 0}`, 422, "limit")
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": [1, 2], "limit": 1, "top": 1}`, 400, "duplicate field")
	fails(t, c, "POST", "/collections/search/points/search", `{"vector": "near", "limit": 1}`, 400, "Format error in JSON body")
	fails(t, c, "POST", "/collections/search/points/search", `{"limit": 1}`, 400, "missing field `vector`")
}

func testQuery(t *testing.T, c *harness.Cluster) {
	ok(t, c, "PUT", "/collections/query", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "shard_number": 3})
	defer ok(t, c, "DELETE", "/collections/query", nil)
	ok(t, c, "PUT", "/collections/query/points?wait=true", map[string]any{"points": linePoints(10)})
	q := func(body any) any {
		t.Helper()
		return obj(t, ok(t, c, "POST", "/collections/query/points/query", body))["points"]
	}
	if s := ids(t, q(map[string]any{"query": []float64{3.2, 0}, "limit": 3})); s != "3 4 2" {
		t.Fatalf("query by vector: %s", s)
	}
	pts := q(map[string]any{"query": map[string]any{"nearest": []float64{3.2, 0}}, "limit": 2, "offset": 1, "with_payload": true})
	if s := ids(t, pts); s != "4 2" {
		t.Fatalf("nearest query with offset: %s", s)
	}
	if obj(t, obj(t, list(t, pts)[0])["payload"])["i"] == nil {
		t.Fatalf("query with_payload: %v", pts)
	}
	// Query by a point's id: its neighbours, without the point itself.
	if s := ids(t, q(map[string]any{"query": 5, "limit": 2})); s != "4 6" {
		t.Fatalf("query by id: %s", s)
	}
	if s := ids(t, q(map[string]any{"query": []float64{0, 0}})); s != "1 2 3 4 5 6 7 8 9 10" {
		t.Fatalf("query default limit 10: %s", s)
	}
	// No query: points in id order.
	if s := ids(t, q(map[string]any{"limit": 3, "offset": 2})); s != "3 4 5" {
		t.Fatalf("query without query: %s", s)
	}
	fails(t, c, "POST", "/collections/query/points/query", `{"query": 777}`, 404, "Point with id 777 does not exists!")
	if s := ids(t, q(map[string]any{"query": map[string]any{"recommend": map[string]any{"positive": []any{1}}}, "limit": 3})); s != "2 3 4" {
		t.Fatalf("recommend: %s", s)
	}
	fails(t, c, "POST", "/collections/query/points/query", `{"query": {"formula": {"sum": []}}}`, 400, "not supported yet")
	fails(t, c, "POST", "/collections/query/points/query", `{"query": [1, 2, 3]}`, 400, "expected dim: 2, got 3")
	fails(t, c, "POST", "/collections/query/points/query", `{"query": [1, 2], "using": "other"}`, 400, "Not existing vector name error: other")
	fails(t, c, "POST", "/collections/query/points/query", `{"query": [1, 2], "limit": 0}`, 422, "limit")
}

func testScroll(t *testing.T, c *harness.Cluster) {
	ok(t, c, "PUT", "/collections/scroll", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 3})
	defer ok(t, c, "DELETE", "/collections/scroll", nil)
	pts := linePoints(25)
	uuids := []string{"00000000-0000-0000-0000-000000000001", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
	for _, u := range uuids {
		pts = append(pts, map[string]any{"id": u, "vector": []float64{1, 1}})
	}
	ok(t, c, "PUT", "/collections/scroll/points?wait=true", map[string]any{"points": pts})

	// Default page: 10 points with payload, without vectors.
	res := obj(t, ok(t, c, "POST", "/collections/scroll/points/scroll", map[string]any{}))
	first := list(t, res["points"])
	if len(first) != 10 || num(t, res["next_page_offset"]) != 11 {
		t.Fatalf("default scroll page: %d points, next %v", len(first), res["next_page_offset"])
	}
	if p := obj(t, first[0]); p["vector"] != nil || obj(t, p["payload"])["i"] == nil {
		t.Fatalf("scroll defaults: %v", p)
	}
	// Page through everything: integers ascending, then UUIDs.
	var seen []string
	var offset any
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("scroll does not end")
		}
		body := map[string]any{"limit": 4, "with_payload": false, "with_vector": true}
		if offset != nil {
			body["offset"] = offset
		}
		res := obj(t, ok(t, c, "POST", "/collections/scroll/points/scroll", body))
		for _, p := range list(t, res["points"]) {
			seen = append(seen, fmt.Sprint(obj(t, p)["id"]))
			if len(list(t, obj(t, p)["vector"])) != 2 {
				t.Fatalf("with_vector: %v", p)
			}
		}
		offset = res["next_page_offset"]
		if offset == nil {
			break
		}
	}
	var want []string
	for i := 1; i <= 25; i++ {
		want = append(want, fmt.Sprint(i))
	}
	want = append(want, uuids...)
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Fatalf("scrolled %v", seen)
	}
	fails(t, c, "POST", "/collections/scroll/points/scroll", `{"offset": "nope"}`, 400, "UUID")
	fails(t, c, "POST", "/collections/scroll/points/scroll", `{"limit": 0}`, 422, "limit")
	fails(t, c, "POST", "/collections/scroll/points/scroll", `{"order_by": "i", "offset": 3}`, 400, "Cannot use an `offset` when using `order_by`")
}

func testCluster(t *testing.T, c *harness.Cluster) {
	st := obj(t, ok(t, c, "GET", "/cluster", nil))
	if st["status"] != "enabled" || num(t, st["peer_id"]) != float64(c.Router.NodeID()) {
		t.Fatalf("cluster: %v", st)
	}
	peers := obj(t, st["peers"])
	if len(peers) != 5 { // 1 meta, 3 storage, 1 router
		t.Fatalf("peers: %v", peers)
	}
	for id, p := range peers {
		if obj(t, p)["uri"] == "" {
			t.Fatalf("peer %s without uri", id)
		}
	}
	if _, has := peers[fmt.Sprint(c.Router.NodeID())]; !has {
		t.Fatalf("router not among peers: %v", peers)
	}
	raft := obj(t, st["raft_info"])
	if num(t, raft["term"]) < 1 || num(t, raft["commit"]) < 1 || raft["leader"] == nil || raft["role"] != "Follower" || raft["is_voter"] != false {
		t.Fatalf("raft_info: %v", raft)
	}
	if num(t, raft["pending_operations"]) != 0 {
		t.Fatalf("pending_operations: %v", raft)
	}
	if th := obj(t, st["consensus_thread_status"]); th["consensus_thread_status"] != "working" {
		t.Fatalf("consensus_thread_status: %v", th)
	} else if _, err := time.Parse(time.RFC3339, th["last_update"].(string)); err != nil {
		t.Fatalf("last_update: %v", err)
	}
	if len(obj(t, st["message_send_failures"])) != 0 {
		t.Fatalf("message_send_failures: %v", st)
	}

	ok(t, c, "PUT", "/collections/placed", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}, "shard_number": 3, "replication_factor": 2})
	defer ok(t, c, "DELETE", "/collections/placed", nil)
	info := obj(t, ok(t, c, "GET", "/collections/placed/cluster", nil))
	if num(t, info["peer_id"]) != float64(c.Router.NodeID()) || num(t, info["shard_count"]) != 3 ||
		len(list(t, info["local_shards"])) != 0 || len(list(t, info["shard_transfers"])) != 0 {
		t.Fatalf("collection cluster: %v", info)
	}
	remote := list(t, info["remote_shards"])
	if len(remote) != 6 {
		t.Fatalf("remote_shards: %v", remote)
	}
	perShard := map[float64][]float64{}
	for _, r := range remote {
		r := obj(t, r)
		if r["state"] != "Active" {
			t.Fatalf("replica state: %v", r)
		}
		if _, has := peers[fmt.Sprint(uint64(num(t, r["peer_id"])))]; !has {
			t.Fatalf("replica on an unknown peer: %v", r)
		}
		perShard[num(t, r["shard_id"])] = append(perShard[num(t, r["shard_id"])], num(t, r["peer_id"]))
	}
	for shard, nodes := range perShard {
		sort.Float64s(nodes)
		if len(nodes) != 2 || nodes[0] == nodes[1] {
			t.Fatalf("shard %v replicas not on distinct nodes: %v", shard, nodes)
		}
	}
}

// TestRESTFailures stops storage nodes and the meta tier under the router.
