package routing_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/routing"
)

func TestParseConsistency(t *testing.T) {
	f := func(in, want, wantErr string) {
		t.Helper()
		rc, err := routing.ParseConsistency(in)
		if wantErr != "" {
			if apierr.KindOf(err) != apierr.BadRequest || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: got %v, want error with %q", in, err, wantErr)
			}
			return
		}
		if err != nil || rc.String() != want {
			t.Errorf("%q: got %v, %v; want %s", in, rc, err, want)
		}
	}
	f("", "1", "")
	f("1", "1", "")
	f("3", "3", "")
	f("majority", "majority", "")
	f("quorum", "quorum", "")
	f("all", "all", "")
	f("0", "", "Read consistency factor cannot be less than 1")
	f("-1", "", "invalid value")
	f("most", "", "expected a positive integer or one of `majority`, `quorum`, `all`")
	f("All", "", "invalid value")
}

// ids lists point ids as a sorted "1 2 3" string.
func ids[T any](items []T, id func(T) *shoalv1.PointID) string {
	var s []string
	for _, it := range items {
		s = append(s, pointid.String(id(it)))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

func TestResolvePoints(t *testing.T) {
	pts := func(list ...uint64) []*shoalv1.Point {
		var out []*shoalv1.Point
		for _, id := range list {
			out = append(out, &shoalv1.Point{Id: pointid.Num(id)})
		}
		return out
	}
	f := func(keep int, want string, answers ...[]*shoalv1.Point) {
		t.Helper()
		if got := ids(routing.ResolvePoints(answers, keep), (*shoalv1.Point).GetId); got != want {
			t.Errorf("keep %d of %d answers: got %q, want %q", keep, len(answers), got, want)
		}
	}
	f(1, "1 2", pts(1, 2))
	f(3, "2", pts(1, 2), pts(2, 3), pts(2))
	f(2, "1 2 3", pts(1, 2), pts(2, 3), pts(1, 3))
	f(2, "", pts(1), pts(2), pts(3))
	f(3, "", pts(1, 2), pts(1, 2))             // fewer answers than required
	f(2, "1", pts(1, 1), pts(1))               // duplicates in one answer count once
	f(2, "", pts(1, 1), pts())                 // ... and only once
	f(3, "5", pts(5, 6), pts(5, 6, 7), pts(5)) // all
}

func TestResolvePointsKeepsTheNewestCopy(t *testing.T) {
	a := []*shoalv1.Point{{Id: pointid.Num(1), Version: 3, Payload: []byte(`{"v":"old"}`)}}
	b := []*shoalv1.Point{{Id: pointid.Num(1), Version: 9, Payload: []byte(`{"v":"new"}`)}}
	got := routing.ResolvePoints([][]*shoalv1.Point{a, b}, 2)
	if len(got) != 1 || string(got[0].Payload) != `{"v":"new"}` {
		t.Fatalf("got %v", got)
	}
}

func TestResolveScored(t *testing.T) {
	sp := func(list ...uint64) []*shoalv1.ScoredPoint {
		var out []*shoalv1.ScoredPoint
		for _, id := range list {
			out = append(out, &shoalv1.ScoredPoint{Point: &shoalv1.Point{Id: pointid.Num(id)}, Score: float32(id)})
		}
		return out
	}
	f := func(keep int, want string, answers ...[]*shoalv1.ScoredPoint) {
		t.Helper()
		got := ids(routing.ResolveScored(answers, keep), func(p *shoalv1.ScoredPoint) *shoalv1.PointID { return p.GetPoint().GetId() })
		if got != want {
			t.Errorf("keep %d of %d answers: got %q, want %q", keep, len(answers), got, want)
		}
	}
	f(3, "4", sp(4, 3), sp(4, 2), sp(4, 3, 1))
	f(2, "3 4", sp(4, 3), sp(4, 2), sp(4, 3, 1))
	f(1, "1 2 3 4", sp(4, 3), sp(4, 2), sp(4, 3, 1))
}

func TestResolveCount(t *testing.T) {
	f := func(keep int, want uint64, answers ...uint64) {
		t.Helper()
		if got := routing.ResolveCount(answers, keep); got != want {
			t.Errorf("keep %d of %v: got %d, want %d", keep, answers, got, want)
		}
	}
	f(1, 5, 5)
	f(2, 5, 5, 5, 4)
	f(3, 5, 5, 4, 5) // no value agreed by 3: the largest
	f(2, 7, 7, 7, 9) // agreed beats larger
	f(3, 4, 4, 4, 4)
	f(2, 6, 6, 6, 5, 5) // two agreed values: the larger
}

// divergent returns a 3-node cluster with one shard on all three nodes,
// points 1..4 written through the router, point 10 on nodes 1 and 2
// only, and point 20 on node 3 only.
func divergent(t *testing.T) (*routing.Router, *routing.Collection, func(i int, down bool)) {
	t.Helper()
	fc, r, c := setup(t, 3, 1, 3, shoalv1.Distance_DISTANCE_DOT)
	if _, err := r.Upsert(context.Background(), c, points(4), true); err != nil {
		t.Fatal(err)
	}
	fc.Storage[0].Put(c.Meta.Uid, 0, point(10))
	fc.Storage[1].Put(c.Meta.Uid, 0, point(10))
	fc.Storage[2].Put(c.Meta.Uid, 0, point(20))
	return r, c, func(i int, down bool) { fc.Storage[i].SetDown(down) }
}

func TestConsistentReads(t *testing.T) {
	r, c, setDown := divergent(t)
	all := []*shoalv1.PointID{pointid.Num(1), pointid.Num(2), pointid.Num(3), pointid.Num(4), pointid.Num(10), pointid.Num(20)}
	f := func(consistency, wantIDs string, wantCount uint64) {
		t.Helper()
		rc, err := routing.ParseConsistency(consistency)
		if err != nil {
			t.Fatal(err)
		}
		ctx := routing.WithConsistency(context.Background(), rc)
		got, err := r.Get(ctx, c, all, routing.ReadOptions{})
		if err != nil {
			t.Fatalf("%s: retrieve: %v", consistency, err)
		}
		if s := ids(got, (*shoalv1.Point).GetId); s != wantIDs {
			t.Errorf("%s: retrieve got %q, want %q", consistency, s, wantIDs)
		}
		page, _, err := r.Scroll(ctx, c, routing.ScrollParams{Limit: 10})
		if err != nil {
			t.Fatalf("%s: scroll: %v", consistency, err)
		}
		if s := ids(page, (*shoalv1.Point).GetId); s != wantIDs {
			t.Errorf("%s: scroll got %q, want %q", consistency, s, wantIDs)
		}
		hits, err := r.Search(ctx, c, routing.SearchParams{Vector: []float32{1, 0, 0, 0}, Limit: 10})
		if err != nil {
			t.Fatalf("%s: search: %v", consistency, err)
		}
		if s := ids(hits, func(p *shoalv1.ScoredPoint) *shoalv1.PointID { return p.GetPoint().GetId() }); s != wantIDs {
			t.Errorf("%s: search got %q, want %q", consistency, s, wantIDs)
		}
		if n, err := r.Count(ctx, c, nil); err != nil || n != wantCount {
			t.Errorf("%s: count got %d, %v; want %d", consistency, n, err, wantCount)
		}
	}
	// Node 1 and 2 hold 1-4 and 10 (5 points), node 3 holds 1-4 and 20.
	f("all", "1 2 3 4", 5) // no count agreed by 3: the largest
	f("3", "1 2 3 4", 5)   // same as all
	f("majority", "1 10 2 3 4", 5)
	setDown(2, true)
	f("majority", "1 10 2 3 4", 5) // two of three answer, both hold 10
	f("quorum", "1 10 2 3 4", 5)   // only nodes 1 and 2 can answer
	f("2", "1 10 2 3 4", 5)
	for _, consistency := range []string{"all", "3"} {
		ctx := routing.WithConsistency(context.Background(), must(routing.ParseConsistency(consistency)))
		_, err := r.Get(ctx, c, all, routing.ReadOptions{})
		if apierr.KindOf(err) != apierr.Unavailable || !strings.Contains(err.Error(), fmt.Sprintf("Read consistency `%s` needs 3 replicas of shard 0 to answer, 2 did", consistency)) {
			t.Errorf("%s with a node down: got %v", consistency, err)
		}
	}
	setDown(1, true)
	ctx := routing.WithConsistency(context.Background(), must(routing.ParseConsistency("majority")))
	if _, err := r.Count(ctx, c, nil); apierr.KindOf(err) != apierr.Unavailable {
		t.Errorf("majority with two nodes down: got %v", err)
	}
	ctx = routing.WithConsistency(context.Background(), must(routing.ParseConsistency("4")))
	if _, err := r.Count(ctx, c, nil); apierr.KindOf(err) != apierr.Unavailable || !strings.Contains(err.Error(), "the shard has 3 active replicas") {
		t.Errorf("factor above the replica count: got %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
