package hashring

import (
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
)

func TestSpreadAndStability(t *testing.T) {
	const points = 60000
	six := ForCount(6)
	counts := make([]int, 6)
	for i := uint64(0); i < points; i++ {
		counts[six.Shard(pointid.Num(i))]++
	}
	for s, c := range counts {
		// 100 virtual nodes give a spread within roughly ±30% of even.
		if c < points/6*7/10 || c > points/6*13/10 {
			t.Errorf("shard %d holds %d of %d points: uneven %v", s, c, points, counts)
		}
	}
	seven := ForCount(7)
	moved := 0
	for i := uint64(0); i < points; i++ {
		a, b := six.Shard(pointid.Num(i)), seven.Shard(pointid.Num(i))
		if a != b {
			moved++
			if b != 6 {
				t.Fatalf("point %d moved from shard %d to old shard %d", i, a, b)
			}
		}
	}
	if moved == 0 || moved > points/3 {
		t.Errorf("adding a 7th shard moved %d of %d points", moved, points)
	}
}

func TestDeterministic(t *testing.T) {
	a, b := New([]uint32{0, 1, 2}), New([]uint32{2, 1, 0})
	for i := uint64(0); i < 1000; i++ {
		if a.Shard(pointid.Num(i)) != b.Shard(pointid.Num(i)) {
			t.Fatal("ring depends on the order shards were given")
		}
	}
}
