package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
)

// TestNATSCluster starts two meta nodes: their embedded NATS servers form
// one cluster, so a subscriber on either node's NATS receives what a
// client of the other publishes.
func TestNATSCluster(t *testing.T) {
	cfgA := testutil.Node(t, t.TempDir())
	a := start(t, cfgA)
	cfgB := testutil.Node(t, t.TempDir())
	cfgB.Node.Bootstrap = a.PeerURL()
	b := start(t, cfgB)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range []*App{a, b} {
		resp, err := n.Client().Get(ctx, cluster.NATSRouteKey(n.MemberID()))
		if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != n.natsRouteURL() || n.natsRouteURL() == "" {
			t.Fatalf("node %x's route URL in etcd: %v, %v; want %q", n.MemberID(), resp, err, n.natsRouteURL())
		}
	}

	f := func(from, to *App) {
		t.Helper()
		sub, err := nats.Connect(to.NATSURL())
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		pub, err := nats.Connect(from.NATSURL())
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		subject := fmt.Sprintf("test.%x.%x", from.MemberID(), to.MemberID())
		ch := make(chan *nats.Msg, 64)
		if _, err := sub.ChanSubscribe(subject, ch); err != nil {
			t.Fatal(err)
		}
		if err := sub.Flush(); err != nil {
			t.Fatal(err)
		}
		// The route comes up in the background: publish until a message
		// gets through.
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if err := pub.Publish(subject, []byte("across")); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-ch:
				if string(m.Data) != "across" {
					t.Fatalf("received %q", m.Data)
				}
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatalf("nothing published on %s reached a subscriber on %s", from.NATSURL(), to.NATSURL())
	}
	f(b, a)
	f(a, b)
}
