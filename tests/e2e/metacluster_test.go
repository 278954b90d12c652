package e2e

import (
	"fmt"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
)

// TestMetaClusterSurvivesLossOfLeader runs three meta nodes (the second and
// third joined with --bootstrap), checks GET /cluster shows them with one
// leader, stops the leader, and checks that the cluster elects another and
// keeps serving reads, writes and catalog changes through the router.
func TestMetaClusterSurvivesLossOfLeader(t *testing.T) {
	c := harness.Start(t, harness.Options{MetaNodes: 3, StorageNodes: 2})

	metaIDs := map[string]int{}
	for i, m := range c.Meta {
		metaIDs[fmt.Sprint(m.MemberID())] = i
	}
	leaderOf := func() (string, map[string]any) {
		cl := obj(t, ok(t, c, "GET", "/cluster", nil))
		raft := obj(t, cl["raft_info"])
		return fmt.Sprintf("%.0f", num(t, raft["leader"])), obj(t, cl["peers"])
	}
	var leader string
	eventually(t, "a leader among the three meta peers", func() bool {
		l, peers := leaderOf()
		for id := range metaIDs {
			if _, ok := peers[id]; !ok {
				return false
			}
		}
		// JSON numbers above 2^53 lose precision in float64; compare
		// through the member ids the apps report.
		for id := range metaIDs {
			if fmt.Sprintf("%.0f", float64(parseUint(t, id))) == l {
				leader = id
				return true
			}
		}
		return false
	})

	ok(t, c, "PUT", "/collections/m", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Euclid"}, "shard_number": 2, "replication_factor": 2})
	ok(t, c, "PUT", "/collections/m/points?wait=true", map[string]any{"points": linePoints(10)})

	c.StopMeta(metaIDs[leader])

	eventually(t, "a new leader", func() bool {
		r := c.Do("GET", "/cluster", nil)
		if r.Status != 200 {
			return false
		}
		l, _ := leaderOf()
		return l != "0" && l != fmt.Sprintf("%.0f", float64(parseUint(t, leader)))
	})
	ok(t, c, "PUT", "/collections/m/points?wait=true", map[string]any{"points": []map[string]any{{"id": 11, "vector": []float64{11, 0}}}})
	if got := num(t, obj(t, ok(t, c, "POST", "/collections/m/points/count", map[string]any{"exact": true}))["count"]); got != 11 {
		t.Fatalf("count after losing the meta leader = %v, want 11", got)
	}
	ok(t, c, "PUT", "/collections/after", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}})
	ok(t, c, "GET", "/collections/after", nil)
}

func parseUint(t *testing.T, s string) uint64 {
	t.Helper()
	var v uint64
	if _, err := fmt.Sscan(s, &v); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}
