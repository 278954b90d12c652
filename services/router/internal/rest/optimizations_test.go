package rest_test

import (
	"encoding/json"
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/rest"
)

type optimizationsReply struct {
	Summary struct {
		QueuedOptimizations int `json:"queued_optimizations"`
		QueuedSegments      int `json:"queued_segments"`
		QueuedPoints        int `json:"queued_points"`
		IdleSegments        int `json:"idle_segments"`
	} `json:"summary"`
	Running      []any `json:"running"`
	Queued       []any `json:"queued"`
	Completed    []any `json:"completed"`
	IdleSegments []struct {
		UUID   string `json:"uuid"`
		Points int    `json:"points_count"`
	} `json:"idle_segments"`
}

func TestOptimizationsAcrossShards(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors": {"size": 2, "distance": "Dot"}, "shard_number": 3, "replication_factor": 2}`)
	e.ok("PUT", "/collections/c/points?wait=true", `{"batch": {"ids": [1, 2, 3, 4, 5, 6, 7], "vectors": [[1,0],[2,0],[3,0],[4,0],[5,0],[6,0],[7,0]]}}`)

	raw := e.ok("GET", "/collections/c/optimizations", "")
	var all map[string]any
	_ = json.Unmarshal([]byte(raw), &all)
	for _, k := range []string{"queued", "completed", "idle_segments"} {
		if _, present := all[k]; present {
			t.Fatalf("%s present without with=: %s", k, raw)
		}
	}
	var got optimizationsReply
	if err := json.Unmarshal([]byte(e.ok("GET", "/collections/c/optimizations?with=queued,completed,idle_segments&completed_limit=3", "")), &got); err != nil {
		t.Fatal(err)
	}
	// One replica per shard answers: three idle segments holding the 7
	// points once.
	if got.Summary.IdleSegments != 3 || len(got.IdleSegments) != 3 || got.Summary.QueuedOptimizations != 0 {
		t.Fatalf("summary %+v, idle %+v", got.Summary, got.IdleSegments)
	}
	points := 0
	for _, s := range got.IdleSegments {
		points += s.Points
	}
	if points != 7 || got.Running == nil || got.Queued == nil || got.Completed == nil || len(got.Running)+len(got.Queued)+len(got.Completed) != 0 {
		t.Fatalf("idle points %d, reply %+v", points, got)
	}
	// Through an alias too.
	e.ok("POST", "/collections/aliases", `{"actions": [{"create_alias": {"collection_name": "c", "alias_name": "a"}}]}`)
	e.ok("GET", "/collections/a/optimizations", "")

	e.fails("GET", "/collections/c/optimizations?with=everything", "", 400, "with")
	e.fails("GET", "/collections/c/optimizations?completed_limit=-1", "", 400, "completed_limit")
	e.fails("GET", "/collections/nope/optimizations", "", 404, "Collection `nope` doesn't exist!")
	for _, st := range e.fc.Storage {
		st.SetDown(true)
	}
	e.fails("GET", "/collections/c/optimizations", "", 503, "")
}
