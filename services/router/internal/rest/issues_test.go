package rest_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/rest"
)

type issuesReply struct {
	Issues []struct {
		ID                string          `json:"id"`
		Description       string          `json:"description"`
		Solution          json.RawMessage `json:"solution"`
		Timestamp         string          `json:"timestamp"`
		RelatedCollection *string         `json:"related_collection"`
	} `json:"issues"`
}

func (e *env) issues() issuesReply {
	e.t.Helper()
	var out issuesReply
	if err := json.Unmarshal([]byte(e.ok("GET", "/issues", "")), &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestIssuesEndpoints(t *testing.T) {
	e := newEnv(t, rest.Options{})
	if got := e.issues(); got.Issues == nil || len(got.Issues) != 0 {
		t.Fatalf("healthy cluster: %+v", got)
	}
	e.ok("PUT", "/collections/c", `{"vectors": {"size": 2, "distance": "Dot"}, "shard_number": 1, "replication_factor": 2}`)
	_, m, _ := e.fc.State.Collection("c")
	node := m.Shards[0].Replicas[0].NodeId
	e.fc.State.SetReplicaState("c", 0, node, shoalv1.ReplicaState_REPLICA_STATE_DEAD)
	e.cons.err = errors.New("meta down")

	got := e.issues()
	if len(got.Issues) != 2 {
		t.Fatalf("want 2 issues: %+v", got)
	}
	meta, dead := got.Issues[0], got.Issues[1]
	if meta.ID != "META_UNREACHABLE" || meta.RelatedCollection != nil {
		t.Fatalf("meta issue: %+v", meta)
	}
	if dead.ID != "REPLICA_NOT_ACTIVE/c/0/"+jsonID(node) || dead.RelatedCollection == nil || *dead.RelatedCollection != "c" {
		t.Fatalf("replica issue: %+v", dead)
	}
	var sol map[string]string
	if err := json.Unmarshal(dead.Solution, &sol); err != nil || sol["refactor"] == "" {
		t.Fatalf("solution %s", dead.Solution)
	}
	if _, err := time.Parse(time.RFC3339Nano, dead.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", dead.Timestamp, err)
	}

	if res := e.ok("DELETE", "/issues", ""); res != "true" {
		t.Fatalf("DELETE /issues: %s", res)
	}
	if got := e.issues(); len(got.Issues) != 0 {
		t.Fatalf("after clear: %+v", got)
	}
	// The meta tier comes back and goes away again: reported anew.
	e.cons.err = nil
	e.issues()
	e.cons.err = errors.New("meta down again")
	if got := e.issues(); len(got.Issues) != 1 || got.Issues[0].ID != "META_UNREACHABLE" {
		t.Fatalf("recurrence: %+v", got)
	}
}

func TestIssuesClearNeedsFullKey(t *testing.T) {
	e := newEnv(t, rest.Options{APIKey: "secret", ReadOnlyAPIKey: "reader"})
	if r := e.do("GET", "/issues", "", "api-key", "reader"); r.status != 200 {
		t.Fatalf("read-only GET: %d %s", r.status, r.raw)
	}
	if r := e.do("DELETE", "/issues", "", "api-key", "reader"); r.status != 403 {
		t.Fatalf("read-only DELETE: %d %s", r.status, r.raw)
	}
	if r := e.do("DELETE", "/issues", "", "api-key", "secret"); r.status != 200 {
		t.Fatalf("DELETE: %d %s", r.status, r.raw)
	}
}

func jsonID(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
