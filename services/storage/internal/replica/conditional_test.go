package replica

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func conditionalUpsertOp(updateFilter string, mode shoalv1.UpdateMode, points ...*shoalv1.Point) *shoalv1.Operation {
	op := upsertOp(points...)
	op.GetUpsert().UpdateMode = mode
	if updateFilter != "" {
		op.GetUpsert().UpdateFilter = []byte(updateFilter)
	}
	return op
}

func conditionalVectorsOp(updateFilter string, points ...*shoalv1.PointVectors) *shoalv1.Operation {
	op := updateVectorsOp(points...)
	op.GetUpdateVectors().UpdateFilter = []byte(updateFilter)
	return op
}

// pointState describes a point as "<payload> a=<first coordinate of a>",
// or "<missing>".
func pointState(t *testing.T, r *Replica, id uint64) string {
	t.Helper()
	got, err := r.Get(context.Background(), []*shoalv1.PointID{pointid.Num(id)}, true, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return "<missing>"
	}
	return fmt.Sprintf("%s a=%g", got[0].GetPayload(), got[0].GetVectors()["a"].GetData()[0])
}

func TestConditionalUpsert(t *testing.T) {
	const (
		old1 = `{"v":1} a=1`
		old2 = `{"v":2} a=1`
		new1 = `{"v":10,"id":1} a=0`
		new2 = `{"v":10,"id":2} a=0`
		new3 = `{"v":10,"id":3} a=0`
		gone = "<missing>"
	)
	isOne := `{"must":[{"key":"v","match":{"value":1}}]}`
	upsert, insertOnly, updateOnly := shoalv1.UpdateMode_UPDATE_MODE_UPSERT, shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY, shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY
	cases := []struct {
		name   string
		filter string
		mode   shoalv1.UpdateMode
		want   [3]string // points 1, 2, 3 afterwards
	}{
		{"upsert", "", upsert, [3]string{new1, new2, new3}},
		{"insert_only", "", insertOnly, [3]string{old1, old2, new3}},
		{"update_only", "", updateOnly, [3]string{new1, new2, gone}},
		{"filter", isOne, upsert, [3]string{new1, old2, new3}},
		{"filter matching none", `{"must":[{"key":"v","match":{"value":7}}]}`, upsert, [3]string{old1, old2, new3}},
		{"empty filter", `{}`, upsert, [3]string{new1, new2, new3}},
		{"update_only with filter", isOne, updateOnly, [3]string{new1, old2, gone}},
		{"insert_only with filter", isOne, insertOnly, [3]string{old1, old2, new3}},
		{"filter on has_id", `{"must":[{"has_id":[2,3]}]}`, upsert, [3]string{old1, new2, new3}},
	}
	for _, indexed := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/indexed=%v", tc.name, indexed), func(t *testing.T) {
				ctx := context.Background()
				r, _ := openTest(t, replCfg(), Options{})
				if indexed {
					mustApply(t, r, createIndexOp("v", `"integer"`))
				}
				one := map[string][]float32{"a": {1, 0, 0}}
				first := mustApply(t, r, upsertOp(point(1, `{"v":1}`, one), point(2, `{"v":2}`, one)))
				zero := map[string][]float32{"a": {0, 1, 0}}
				seq := mustApply(t, r, conditionalUpsertOp(tc.filter, tc.mode,
					point(1, `{"v":10,"id":1}`, zero), point(2, `{"v":10,"id":2}`, zero), point(3, `{"v":10,"id":3}`, zero)))
				present := uint64(0)
				for i, want := range tc.want {
					id := uint64(i + 1)
					if got := pointState(t, r, id); got != want {
						t.Errorf("point %d: %s, want %s", id, got, want)
					}
					if want == gone {
						continue
					}
					present++
					pts, err := r.Get(ctx, []*shoalv1.PointID{pointid.Num(id)}, false, nil)
					if err != nil {
						t.Fatal(err)
					}
					// A point left alone keeps its version.
					wantVersion := seq
					if want == old1 || want == old2 {
						wantVersion = first
					}
					if v := pts[0].GetVersion(); v != wantVersion {
						t.Errorf("point %d: version %d, want %d", id, v, wantVersion)
					}
				}
				if n := mustCount(t, r); n != present {
					t.Errorf("count %d, want %d", n, present)
				}
				// Search (the in-memory vector index) agrees with the store.
				hits := searchIDs(t, r, []float32{0, 1, 0}, "")
				var exact []string
				for _, h := range hits {
					if strings.HasSuffix(h, ":1.00000") {
						exact = append(exact, strings.TrimSuffix(h, ":1.00000"))
					}
				}
				var wantExact []string
				for i, want := range tc.want {
					if strings.HasSuffix(want, "a=0") {
						wantExact = append(wantExact, fmt.Sprint(i+1))
					}
				}
				slices.Sort(exact)
				if !slices.Equal(exact, wantExact) {
					t.Errorf("points found with the new vector %v, want %v", exact, wantExact)
				}
			})
		}
	}
}

// TestConditionalUpsertDuplicates: every point of an op is judged against
// the points as they were before it, and the last occurrence of an id is
// the one stored.
func TestConditionalUpsertDuplicates(t *testing.T) {
	r, _ := openTest(t, replCfg(), Options{})
	one := map[string][]float32{"a": {1, 0, 0}}
	mustApply(t, r, conditionalUpsertOp("", shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY,
		point(5, `{"n":1}`, one), point(5, `{"n":2}`, one)))
	if got := pointState(t, r, 5); got != `{"n":2} a=1` {
		t.Fatalf("point 5: %s", got)
	}
	if n := mustCount(t, r); n != 1 {
		t.Fatalf("count %d", n)
	}
	mustApply(t, r, conditionalUpsertOp("", shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY,
		point(6, `{"n":1}`, one), point(6, `{"n":2}`, one)))
	if got := pointState(t, r, 6); got != "<missing>" {
		t.Fatalf("point 6 (update_only, absent): %s", got)
	}
}

func TestConditionalUpdateVectors(t *testing.T) {
	for _, indexed := range []bool{false, true} {
		t.Run(fmt.Sprintf("indexed=%v", indexed), func(t *testing.T) {
			ctx := context.Background()
			r, _ := openTest(t, replCfg(), Options{})
			if indexed {
				mustApply(t, r, createIndexOp("color", `"keyword"`))
			}
			one := map[string][]float32{"a": {1, 0, 0}}
			mustApply(t, r, upsertOp(point(1, `{"color":"red"}`, one), point(2, `{"color":"blue"}`, one)))
			red := `{"must":[{"key":"color","match":{"value":"red"}}]}`
			zero := map[string][]float32{"a": {0, 1, 0}}
			mustApply(t, r, conditionalVectorsOp(red, pv(1, zero), pv(2, zero)))
			if got := pointState(t, r, 1); got != `{"color":"red"} a=0` {
				t.Errorf("point 1 (matching): %s", got)
			}
			if got := pointState(t, r, 2); got != `{"color":"blue"} a=1` {
				t.Errorf("point 2 (not matching): %s", got)
			}
			// A missing point is still refused, and nothing is written.
			_, before := r.LastApplied()
			_, err := r.Apply(ctx, conditionalVectorsOp(red, pv(1, one), pv(9, one)), true)
			if !IsNotFound(err) {
				t.Fatalf("missing point: %v", err)
			}
			if got := pointState(t, r, 1); got != `{"color":"red"} a=0` {
				t.Errorf("point 1 after a refused op: %s", got)
			}
			if _, after := r.LastApplied(); after != before {
				t.Errorf("a refused op moved the log from %d to %d", before, after)
			}
		})
	}
}

func TestConditionalOpsRefused(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, replCfg(), Options{})
	one := map[string][]float32{"a": {1, 0, 0}}
	for name, op := range map[string]*shoalv1.Operation{
		"bad filter":         conditionalUpsertOp(`{"must":[{"key":"v","match":{"nope":1}}]}`, 0, point(1, "", one)),
		"filter not object":  conditionalUpsertOp(`[1]`, 0, point(1, "", one)),
		"unknown mode":       conditionalUpsertOp("", shoalv1.UpdateMode(7), point(1, "", one)),
		"bad vectors filter": conditionalVectorsOp(`{"should":3}`, pv(1, one)),
	} {
		_, err := r.Apply(ctx, op, true)
		if !IsInvalid(err) {
			t.Errorf("%s: %v, want a validation error", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "update_") {
			t.Errorf("%s: %q does not name the member", name, err)
		}
	}
	if n := mustCount(t, r); n != 0 {
		t.Fatalf("refused ops wrote %d points", n)
	}
}

// conditionalOp returns a conditional upsert or vector update over ids
// 1..40, filtered on the payload randomOp writes.
func conditionalOp(rng *rand.Rand) *shoalv1.Operation {
	filters := []string{
		"",
		fmt.Sprintf(`{"must":[{"key":"tag","match":{"value":"t%d"}}]}`, rng.IntN(4)),
		fmt.Sprintf(`{"must":[{"key":"n","range":{"lt":%d}}]}`, rng.IntN(100)),
		`{"must_not":[{"is_empty":{"key":"m"}}]}`,
	}
	f := filters[rng.IntN(len(filters))]
	vec := []float32{rng.Float32(), rng.Float32(), 1}
	if rng.IntN(4) == 0 {
		return conditionalVectorsOp(f, pv(1+rng.Uint64N(40), map[string][]float32{"a": vec}))
	}
	var pts []*shoalv1.Point
	for range 1 + rng.IntN(4) {
		pts = append(pts, point(1+rng.Uint64N(40), fmt.Sprintf(`{"n":%d,"tag":"t%d","c":true}`, rng.IntN(100), rng.IntN(4)), map[string][]float32{"a": vec}))
	}
	return conditionalUpsertOp(f, shoalv1.UpdateMode(rng.IntN(3)), pts...)
}

// TestConditionalOpsReplicate: a follower fed the primary's log through
// ApplyLog judges every condition as the primary did.
func TestConditionalOpsReplicate(t *testing.T) {
	ctx := context.Background()
	leader, _ := openTest(t, replCfg(), Options{})
	follower, _ := openTest(t, replCfg(), Options{})
	leader.SetTerm(1)
	rng := rand.New(rand.NewPCG(3, 4))
	workload(t, leader, rng, 60)
	mustApply(t, leader, createIndexOp("tag", `"keyword"`))
	mustApply(t, leader, createIndexOp("n", `"integer"`))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(uint64(w), 5))
			for i := range 80 {
				op := conditionalOp(wr)
				if i%3 == 0 {
					op = randomOp(wr)
				}
				if _, err := leader.Apply(ctx, op, false); err != nil && !IsNotFound(err) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	ship(t, leader, follower, 9)
	ld, fd := mustDigest(t, leader), mustDigest(t, follower)
	if ld != fd {
		t.Fatalf("digests differ: leader %+v, follower %+v", ld, fd)
	}
	q := []float32{0.2, 0.4, 0.9}
	for _, flt := range []string{"", `{"must":[{"key":"c","match":{"value":true}}]}`} {
		if l, f := searchIDs(t, leader, q, flt), searchIDs(t, follower, q, flt); !slices.Equal(l, f) {
			t.Fatalf("search %q: leader %v, follower %v", flt, l, f)
		}
	}
}

// TestConditionalEntryJudgedByFollower: an entry's condition is evaluated
// against the follower's own points, so a follower that applies the log
// ignoring conditions could not reach the primary's digest.
func TestConditionalEntryJudgedByFollower(t *testing.T) {
	leader, _ := openTest(t, replCfg(), Options{})
	follower, _ := openTest(t, replCfg(), Options{})
	one := map[string][]float32{"a": {1, 0, 0}}
	zero := map[string][]float32{"a": {0, 1, 0}}
	mustApply(t, leader, upsertOp(point(1, `{"v":1}`, one), point(2, `{"v":2}`, one)))
	mustApply(t, leader, conditionalUpsertOp(`{"must":[{"key":"v","match":{"value":1}}]}`, shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY,
		point(1, `{"v":5}`, zero), point(2, `{"v":5}`, zero), point(3, `{"v":5}`, zero)))
	mustApply(t, leader, conditionalUpsertOp("", shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY, point(2, `{"v":6}`, zero), point(4, `{"v":6}`, zero)))
	mustApply(t, leader, conditionalVectorsOp(`{"must":[{"key":"v","match":{"value":6}}]}`, pv(1, one), pv(4, one)))
	ship(t, leader, follower, 2)
	if ld, fd := mustDigest(t, leader), mustDigest(t, follower); ld != fd {
		t.Fatalf("digests differ: leader %+v, follower %+v", ld, fd)
	}
	want := map[uint64]string{1: `{"v":5} a=0`, 2: `{"v":2} a=1`, 3: "<missing>", 4: `{"v":6} a=1`}
	for id, w := range want {
		if got := pointState(t, follower, id); got != w {
			t.Errorf("follower point %d: %s, want %s", id, got, w)
		}
	}
}
