package routing_test

import (
	"context"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/fake"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

// lagging is a topology whose local copy lacks every collection (its
// watch has not delivered them yet) while etcd (Fetch) has them.
type lagging struct {
	*fake.State
	fetches int
}

func (l *lagging) Collection(string) (*shoalv1.Collection, *shoalv1.ShardMap, bool) {
	return nil, nil, false
}

func (l *lagging) Fetch(_ context.Context, name string) (*shoalv1.Collection, *shoalv1.ShardMap, bool, error) {
	l.fetches++
	c, m, ok := l.State.Collection(name)
	return c, m, ok, nil
}

func TestResolveReadsACollectionTheLocalStateLacks(t *testing.T) {
	fc, _, _ := setup(t, 2, 2, 1, shoalv1.Distance_DISTANCE_DOT)
	topo := &lagging{State: fc.State}
	r := routing.New(topo, fc.Dialer(), nil)
	c, err := r.Resolve("c")
	if err != nil || topo.fetches != 1 || c.Name() != "c" {
		t.Fatalf("resolve: %v, %d fetches", err, topo.fetches)
	}
	// Writes and reads work with the fetched snapshot.
	if _, err := r.Upsert(context.Background(), c, points(10), true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve("nope"); apierr.KindOf(err) != apierr.NotFound {
		t.Fatalf("unknown everywhere: %v", err)
	}
}
