package container

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verifyAll checks through both routers that every acknowledged write is
// readable and that searches find seed points.
func verifyAll(e *env) error {
	for _, r := range []*rest{e.r1, e.r2} {
		if n, err := e.ledger.verify(r); err != nil {
			return fmt.Errorf("%s after %d points: %w", r.base, n, err)
		}
		if err := searchSelf(r, seedCollection, sample(seedPoints, 6)); err != nil {
			return fmt.Errorf("%s: %w", r.base, err)
		}
	}
	return nil
}

// writeEventually writes a batch until a router acknowledges it (the same
// batch each time: upserts are idempotent).
func writeEventually(t *testing.T, e *env, what string, pts []point) {
	t.Helper()
	eventually(t, what, time.Minute, func() error { return e.ledger.upsert(e.r1, seedCollection, pts) })
}

// testKillStorage kills a storage node (SIGKILL): every acknowledged point
// stays readable from the other replica (replication_factor 2), writes
// keep being acknowledged, and after a restart the node serves writes
// again and nothing is lost.
func testKillStorage(t *testing.T, e *env) {
	const victim = "storage-2"
	if _, err := docker("kill", e.ids[victim]); err != nil {
		t.Fatal(err)
	}
	eventually(t, victim+" stopped", 30*time.Second, func() error {
		st, err := health(e.ids[victim])
		if err == nil && !strings.HasPrefix(st, "exited/") {
			err = fmt.Errorf("%s is %s", victim, st)
		}
		return err
	})
	if err := verifyAll(e); err != nil {
		t.Fatalf("reads with %s killed: %v", victim, err)
	}
	// Writes go on: shards whose primary was on the victim fail over once
	// its lease lapses (the router retries meanwhile), the others no longer
	// wait for it.
	start := time.Now()
	writeEventually(t, e, "a write with "+victim+" down", makePoints(1001, 20, dim, "kill", 11))
	t.Logf("first write acknowledged %s after %s was killed", time.Since(start).Round(time.Millisecond), victim)
	writeEventually(t, e, "a second write with "+victim+" down", makePoints(1021, 20, dim, "kill", 12))
	if err := verifyAll(e); err != nil {
		t.Fatalf("reads after writing with %s killed: %v", victim, err)
	}

	if _, err := docker("start", e.ids[victim]); err != nil {
		t.Fatal(err)
	}
	e.waitHealthy(t, victim)
	writeEventually(t, e, "a write after "+victim+" restarted", makePoints(1001, 20, dim, "kill", 11))
	if err := verifyAll(e); err != nil {
		t.Fatal(err)
	}
}

// leader returns the Raft leader's id and its meta service name, as
// router-1 reports them.
func leader(e *env) (uint64, string, error) {
	var ci clusterInfo
	if err := e.r1.do("GET", "/cluster", nil, &ci); err != nil {
		return 0, "", err
	}
	p, ok := ci.Peers[strconv.FormatUint(ci.RaftInfo.Leader, 10)]
	if ci.RaftInfo.Leader == 0 || !ok {
		return 0, "", fmt.Errorf("no known leader (raft_info.leader %d)", ci.RaftInfo.Leader)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(p.URI, "http://"), ":6335")
	if _, ok := e.ids[host]; !ok || !strings.HasPrefix(host, "meta-") {
		return 0, "", fmt.Errorf("leader %d has uri %s, not a meta service", ci.RaftInfo.Leader, p.URI)
	}
	return ci.RaftInfo.Leader, host, nil
}

// testPauseMetaLeader freezes the meta leader's container (docker pause):
// the other two elect a new leader, and collection creation, writes and
// reads keep working; then it is resumed.
func testPauseMetaLeader(t *testing.T, e *env) {
	old, victim, err := leader(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := docker("pause", e.ids[victim]); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	eventually(t, "a new meta leader", time.Minute, func() error {
		id, name, err := leader(e)
		if err == nil && id == old {
			err = fmt.Errorf("leader is still %s", name)
		}
		return err
	})
	_, now, _ := leader(e)
	t.Logf("leader %s paused; %s leads (seen %v after the pause)", victim, now, time.Since(paused).Round(100*time.Millisecond))

	// Create is idempotent for an identical body, so it may be retried
	// while storage nodes move their sessions to a live meta member.
	const coll = "after_pause"
	eventually(t, "create a collection without the old leader", time.Minute, func() error {
		return e.r2.do("PUT", "/collections/"+coll, map[string]any{
			"vectors": map[string]any{"size": dim, "distance": "Cosine"}, "shard_number": 2, "replication_factor": 2,
		}, nil)
	})
	pts := makePoints(1, 40, dim, "pause", 5)
	if err := e.ledger.upsert(e.r1, coll, pts); err != nil {
		t.Fatalf("write without the old leader: %v", err)
	}
	if err := searchSelf(e.r2, coll, sample(pts, 4)); err != nil {
		t.Fatal(err)
	}
	if err := verifyAll(e); err != nil {
		t.Fatal(err)
	}
	if _, err := docker("unpause", e.ids[victim]); err != nil {
		t.Fatal(err)
	}
	e.waitHealthy(t, victim)
}

// testDisconnectStorage cuts a storage node off the network for 20 s:
// reads keep working from the other replicas, and once reconnected the
// node returns to service (registered, accepting writes) with nothing
// lost.
func testDisconnectStorage(t *testing.T, e *env) {
	const victim = "storage-3"
	out, err := docker("inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", e.ids[victim])
	if err != nil {
		t.Fatal(err)
	}
	nets := strings.Fields(out)
	if len(nets) != 1 {
		t.Fatalf("%s is on networks %v, want one", victim, nets)
	}
	if _, err := docker("network", "disconnect", nets[0], e.ids[victim]); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	if err := verifyAll(e); err != nil {
		t.Fatalf("reads with %s cut off: %v", victim, err)
	}
	time.Sleep(time.Until(cut.Add(20 * time.Second)))
	// The service name is a network alias: give it back.
	if _, err := docker("network", "connect", "--alias", victim, nets[0], e.ids[victim]); err != nil {
		t.Fatal(err)
	}
	eventually(t, victim+" registered again", time.Minute, func() error {
		var ci clusterInfo
		if err := e.r1.do("GET", "/cluster", nil, &ci); err != nil {
			return err
		}
		for _, u := range ci.uris() {
			if u == "http://"+victim+":6335" {
				return nil
			}
		}
		return fmt.Errorf("not among %v", ci.uris())
	})
	writeEventually(t, e, "a write after "+victim+" reconnected", makePoints(2001, 20, dim, "disconnect", 13))
	if err := verifyAll(e); err != nil {
		t.Fatal(err)
	}
}

// testRestartAll restarts every container (docker compose restart): the
// cluster comes back by itself and every acknowledged write is there.
func testRestartAll(t *testing.T, e *env) {
	began := time.Now()
	if _, err := e.p.compose(4*time.Minute, "restart"); err != nil {
		t.Fatalf("compose restart: %v", err)
	}
	for _, s := range services {
		out, err := docker("inspect", "--format", "{{.State.StartedAt}}", e.ids[s])
		if err != nil {
			t.Fatal(err)
		}
		started, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(out))
		if err != nil || !started.After(began) {
			t.Fatalf("%s started at %q (%v), not after the restart began at %v", s, strings.TrimSpace(out), err, began)
		}
	}
	e.waitHealthy(t, services...)
	eventually(t, "every acknowledged write readable after the restart", time.Minute, func() error { return verifyAll(e) })
	t.Logf("restart of every container to all data readable: %v", time.Since(began).Round(100*time.Millisecond))
	writeEventually(t, e, "a write after the restart", makePoints(3001, 20, dim, "restart", 17))
	if err := verifyAll(e); err != nil {
		t.Fatal(err)
	}
}
