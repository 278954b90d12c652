package routing

import (
	"fmt"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func sp(id uint64, score float32) *shoalv1.ScoredPoint {
	return &shoalv1.ScoredPoint{Point: &shoalv1.Point{Id: pointid.Num(id)}, Score: score}
}

func ids(points []*shoalv1.ScoredPoint) string {
	s := ""
	for i, p := range points {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s:%g", pointid.String(p.GetPoint().GetId()), p.GetScore())
	}
	return s
}

func TestMergeScored(t *testing.T) {
	f := func(name string, lists [][]*shoalv1.ScoredPoint, higher bool, offset, limit int, exclude []uint64, want string) {
		t.Helper()
		ex := map[string]bool{}
		for _, id := range exclude {
			ex[string(pointid.Key(pointid.Num(id)))] = true
		}
		got := ids(MergeScored(lists, ScoreOrder{HigherIsBetter: higher}, offset, limit, ex))
		if got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	similarity := [][]*shoalv1.ScoredPoint{
		{sp(1, 0.9), sp(4, 0.5), sp(7, 0.1)},
		{sp(2, 0.8), sp(5, 0.6)},
		{},
		{sp(3, 0.95), sp(6, 0.2)},
	}
	f("higher is better", similarity, true, 0, 10, nil, "3:0.95 1:0.9 2:0.8 5:0.6 4:0.5 6:0.2 7:0.1")
	f("limit", similarity, true, 0, 3, nil, "3:0.95 1:0.9 2:0.8")
	f("offset and limit", similarity, true, 2, 2, nil, "2:0.8 5:0.6")
	f("offset past the end", similarity, true, 10, 5, nil, "")
	f("exclude", similarity, true, 0, 3, []uint64{1}, "3:0.95 2:0.8 5:0.6")

	distance := [][]*shoalv1.ScoredPoint{
		{sp(1, 0.5), sp(4, 2.5)},
		{sp(2, 0.1), sp(5, 3)},
		{sp(3, 1)},
	}
	f("lower is better", distance, false, 0, 10, nil, "2:0.1 1:0.5 3:1 4:2.5 5:3")
	f("lower is better with offset", distance, false, 1, 2, nil, "1:0.5 3:1")

	dupes := [][]*shoalv1.ScoredPoint{
		{sp(1, 0.9), sp(2, 0.5)},
		{sp(1, 0.7), sp(3, 0.6)},
	}
	f("dedupe keeps the best occurrence", dupes, true, 0, 10, nil, "1:0.9 3:0.6 2:0.5")
	f("dedupe does not count towards offset", dupes, true, 1, 10, nil, "3:0.6 2:0.5")

	ties := [][]*shoalv1.ScoredPoint{{sp(9, 1), sp(2, 1)}, {sp(5, 1)}}
	f("ties ordered by id", ties, true, 0, 10, nil, "2:1 5:1 9:1")

	unsorted := [][]*shoalv1.ScoredPoint{{sp(1, 0.1), sp(2, 0.9)}, {sp(3, 0.5)}}
	f("unsorted input", unsorted, true, 0, 10, nil, "2:0.9 3:0.5 1:0.1")
	f("unsorted input, lower is better", unsorted, false, 0, 10, nil, "1:0.1 3:0.5 2:0.9")

	f("no lists", nil, true, 0, 10, nil, "")
}

func TestMergeScoredKeepsInputs(t *testing.T) {
	in := [][]*shoalv1.ScoredPoint{{sp(1, 0.1), sp(2, 0.9)}}
	MergeScored(in, ScoreOrder{HigherIsBetter: true}, 0, 10, nil)
	if got := ids(in[0]); got != "1:0.1 2:0.9" {
		t.Fatalf("input list modified: %s", got)
	}
}

func TestScoreOrderPasses(t *testing.T) {
	f := func(higher bool, score, threshold float32, want bool) {
		t.Helper()
		if got := (ScoreOrder{HigherIsBetter: higher}).Passes(score, threshold); got != want {
			t.Errorf("higher=%v score=%v threshold=%v: got %v", higher, score, threshold, got)
		}
	}
	f(true, 0.5, 0.5, true)
	f(true, 0.4, 0.5, false)
	f(false, 0.5, 0.5, true)
	f(false, 0.6, 0.5, false)
}

func pt(id *shoalv1.PointID) *shoalv1.Point { return &shoalv1.Point{Id: id} }

func TestMergeByID(t *testing.T) {
	u1, _ := pointid.ParseString("00000000-0000-0000-0000-000000000001")
	u2, _ := pointid.ParseString("ffffffff-0000-0000-0000-000000000000")
	f := func(name string, lists [][]*shoalv1.Point, limit int, wantPage, wantNext string) {
		t.Helper()
		page, next := MergeByID(lists, limit)
		got := ""
		for i, p := range page {
			if i > 0 {
				got += " "
			}
			got += pointid.String(p.GetId())
		}
		gotNext := "<nil>"
		if next != nil {
			gotNext = pointid.String(next)
		}
		if got != wantPage || gotNext != wantNext {
			t.Errorf("%s: got page %q next %s, want %q next %s", name, got, gotNext, wantPage, wantNext)
		}
	}
	lists := [][]*shoalv1.Point{
		{pt(pointid.Num(1)), pt(pointid.Num(4)), pt(u2)},
		{pt(pointid.Num(2)), pt(pointid.Num(10)), pt(u1)},
		{pt(pointid.Num(3))},
	}
	f("first page", lists, 3, "1 2 3", "4")
	f("ints before uuids", lists, 6, "1 2 3 4 10 "+u1.GetUuid(), u2.GetUuid())
	f("everything", lists, 7, "1 2 3 4 10 "+u1.GetUuid()+" "+u2.GetUuid(), "<nil>")
	f("more than there is", lists, 100, "1 2 3 4 10 "+u1.GetUuid()+" "+u2.GetUuid(), "<nil>")
	f("dedupe", [][]*shoalv1.Point{{pt(pointid.Num(1)), pt(pointid.Num(2))}, {pt(pointid.Num(1))}}, 1, "1", "2")
	f("empty", [][]*shoalv1.Point{{}, nil}, 10, "", "<nil>")
}

func TestMergeOrdered(t *testing.T) {
	op := func(id uint64, v float64) OrderedPoint { return OrderedPoint{Point: pt(pointid.Num(id)), Value: v} }
	f := func(name string, lists [][]OrderedPoint, desc bool, limit int, want string) {
		t.Helper()
		got := ""
		for i, p := range MergeOrdered(lists, desc, limit) {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%s:%g", pointid.String(p.Point.GetId()), p.Value)
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	lists := [][]OrderedPoint{{op(1, 1), op(4, 3), op(7, 5)}, {op(2, 2), op(5, 3)}, nil}
	f("ascending", lists, false, 10, "1:1 2:2 4:3 5:3 7:5")
	f("limit", lists, false, 3, "1:1 2:2 4:3")
	desc := [][]OrderedPoint{{op(7, 5), op(4, 3), op(1, 1)}, {op(5, 3), op(2, 2)}}
	f("descending, ties by id", desc, true, 4, "7:5 4:3 5:3 2:2")
	f("empty", nil, false, 3, "")
}
