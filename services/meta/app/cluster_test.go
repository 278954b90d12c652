package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// waitUntil polls cond until it holds, failing the test with cond's last
// explanation if it does not within a generous bound (elections take a
// second or two; the bound only keeps a broken test from hanging).
func waitUntil(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agreedLeader reports whether every node knows the same leader, one of
// them.
func agreedLeader(nodes ...*App) (bool, string) {
	leader := nodes[0].Leader()
	var ids []string
	found := false
	for _, n := range nodes {
		ids = append(ids, fmt.Sprintf("%x→%x", n.MemberID(), n.Leader()))
		if n.Leader() != leader {
			return false, fmt.Sprintf("leaders differ: %v", ids)
		}
		found = found || n.MemberID() == leader
	}
	return leader != 0 && found, fmt.Sprintf("no common leader among the nodes: %v", ids)
}

// oneController reports whether exactly one node's controller leads.
func oneController(nodes ...*App) (bool, string) {
	var leaders []string
	for _, n := range nodes {
		if n.ControllerLeader() {
			leaders = append(leaders, fmt.Sprintf("%x", n.MemberID()))
		}
	}
	return len(leaders) == 1, fmt.Sprintf("controller leaders: %v", leaders)
}

func memberCount(t *testing.T, cli *clientv3.Client) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	return len(resp.Members)
}

func TestThreeNodes(t *testing.T) {
	cfgs := make([]config.Config, 3)
	for i := range cfgs {
		cfgs[i] = testutil.Node(t, t.TempDir())
	}
	nodes := make([]*App, 3)
	nodes[0] = start(t, cfgs[0])
	for i := 1; i < 3; i++ {
		cfgs[i].Node.Bootstrap = nodes[0].PeerURL()
		nodes[i] = start(t, cfgs[i])
	}
	for i, n := range nodes {
		if got := memberCount(t, n.Client()); got != 3 {
			t.Fatalf("node %d sees %d members, want 3", i+1, got)
		}
	}
	waitUntil(t, "three nodes agree on a leader", func() (bool, string) { return agreedLeader(nodes...) })
	waitUntil(t, "three meta nodes registered", func() (bool, string) {
		resp, err := nodes[0].Client().Get(context.Background(), cluster.NodesPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return false, err.Error()
		}
		return resp.Count == 3, fmt.Sprintf("%d registered", resp.Count)
	})
	waitUntil(t, "one controller leads", func() (bool, string) { return oneController(nodes...) })

	// Stop the leader: the other two elect a new one and accept writes.
	var down int
	for i, n := range nodes {
		if n.MemberID() == n.Leader() {
			down = i
		}
	}
	downID := nodes[down].MemberID()
	if err := nodes[down].Close(); err != nil {
		t.Fatalf("close leader: %v", err)
	}
	var rest []*App
	for i, n := range nodes {
		if i != down {
			rest = append(rest, n)
		}
	}
	waitUntil(t, "the remaining two agree on a new leader", func() (bool, string) {
		ok, why := agreedLeader(rest...)
		return ok && rest[0].Leader() != downID, why
	})
	waitUntil(t, "one of the remaining controllers leads", func() (bool, string) { return oneController(rest...) })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := rest[0].Client().Put(ctx, "/test/after-failover", "written by two"); err != nil {
		t.Fatalf("put with two of three nodes: %v", err)
	}

	// Restart it from its data dir, without --bootstrap: it rejoins as the
	// same member and catches up.
	cfgs[down].Node.Bootstrap = ""
	back := start(t, cfgs[down])
	if back.MemberID() != downID {
		t.Fatalf("restarted member id %x, want %x", back.MemberID(), downID)
	}
	nodes[down] = back
	if got := memberCount(t, back.Client()); got != 3 {
		t.Fatalf("restarted node sees %d members, want 3", got)
	}
	resp, err := back.Client().Get(ctx, "/test/after-failover")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "written by two" {
		t.Fatalf("restarted node reads %v, %v; want the write made while it was down", resp, err)
	}
	waitUntil(t, "all three agree on a leader again", func() (bool, string) { return agreedLeader(nodes...) })
	waitUntil(t, "still one controller leads", func() (bool, string) { return oneController(nodes...) })
}
