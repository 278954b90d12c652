package etcdserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestJoinReusesUnstartedMember covers a node that crashed between adding
// itself and starting: the retry must reuse that member, not add another,
// and a member that did start must not be taken over by a node without
// data.
func TestJoinReusesUnstartedMember(t *testing.T) {
	log := testutil.Logger(t)
	first, err := Start(context.Background(), testutil.Node(t, t.TempDir()), log)
	if err != nil {
		t.Fatalf("start first member: %v", err)
	}
	t.Cleanup(first.Close)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{first.LocalClientURL()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	joiner := testutil.Node(t, t.TempDir())
	joiner.Node.Bootstrap = first.PeerURL()
	s, err := NewSettings(joiner)
	if err != nil {
		t.Fatal(err)
	}
	added, err := cli.MemberAddAsLearner(ctx, []string{s.PeerURL.String()})
	if err != nil {
		t.Fatalf("add the joiner as a previous attempt would have: %v", err)
	}

	initial, err := join(ctx, s, zap.NewNop(), log)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	want := fmt.Sprintf("%s=%s,%s=%s", first.Name(), first.PeerURL(), s.Name, s.PeerURL.String())
	parts := strings.Split(initial, ",")
	if len(parts) != 2 || !strings.Contains(want, parts[0]) || !strings.Contains(want, parts[1]) {
		t.Fatalf("initial cluster = %q, want the members of %q", initial, want)
	}
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Members) != 2 {
		t.Fatalf("%d members after the retried join, want 2 (the added member reused)", len(list.Members))
	}
	for _, m := range list.Members {
		if m.ID != added.Member.ID && m.ID != first.MemberID() {
			t.Fatalf("unexpected member %x", m.ID)
		}
	}

	// The first member's own peer URL belongs to a started member: a node
	// claiming it without data is refused at once, without retries.
	thief := testutil.Node(t, t.TempDir())
	thief.Node.URI = first.PeerURL()
	thief.Node.Bootstrap = first.PeerURL()
	ts, err := NewSettings(thief)
	if err != nil {
		t.Fatal(err)
	}
	// NewSettings treats a bootstrap naming the node itself as "first
	// node"; join is called directly here to check its own guard.
	ts.Bootstrap = first.PeerURL()
	if _, err := join(ctx, ts, zap.NewNop(), log); !errors.Is(err, errMemberHasHistory) || !strings.Contains(err.Error(), "etcdctl member remove") {
		t.Fatalf("join with a started member's URL: %v, want errMemberHasHistory with instructions", err)
	}
}

func TestJoinGivesUpWithContext(t *testing.T) {
	cfg := testutil.Node(t, t.TempDir())
	cfg.Node.Bootstrap = fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePorts(t, 1)[0]) // nothing listens
	s, err := NewSettings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := join(ctx, s, zap.NewNop(), testutil.Logger(t)); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "/members") {
		t.Fatalf("join through a dead bootstrap: %v, want the deadline and the last error", err)
	}
}
