package hnsw

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

func tmpRead(t *testing.T, p string) (int, int, []uint32) {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skip(err)
	}
	r, c := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
	w := make([]uint32, r*c)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[8+4*i:])
	}
	return r, c, w
}

var tmpVariant = func(v string) {}

func TestTmpAB(t *testing.T) {
	dir := os.Getenv("TMPAB_DATA")
	if dir == "" {
		t.Skip()
	}
	n, dim, bw := tmpRead(t, dir+"/base.fbin")
	nq, _, qw := tmpRead(t, dir+"/query.fbin")
	base := make([]float32, len(bw))
	for i, w := range bw {
		base[i] = f32(w)
	}
	qs := make([]float32, len(qw))
	for i, w := range qw {
		qs[i] = f32(w)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	metric, _ := distance.For(shoalv1.Distance_DISTANCE_EUCLID)
	t0 := time.Now()
	g, err := Build(context.Background(), Config{M: 16, EfConstruct: tmpEfc()}, metric, dim, keys, Slab(base, dim), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("build %.1fs", time.Since(t0).Seconds())
	variants := strings.Split(os.Getenv("TMPAB_VARIANTS"), ",")
	efs := []int{12, 32, 100}
	best := map[string]time.Duration{}
	for round := 0; round < 8; round++ {
		for _, v := range variants {
			tmpVariant(v)
			for _, ef := range efs {
				t0 := time.Now()
				for i := range nq {
					g.Search(qs[i*dim:(i+1)*dim], 10, index.SearchParams{Ef: ef})
				}
				k := fmt.Sprintf("%s/ef%d", v, ef)
				if d := time.Since(t0); best[k] == 0 || d < best[k] {
					best[k] = d
				}
			}
		}
	}
	for _, ef := range efs {
		for _, v := range variants {
			k := fmt.Sprintf("%s/ef%d", v, ef)
			t.Logf("%-20s %8.0f QPS", k, float64(nq)/best[k].Seconds())
		}
	}
}

func tmpEfc() int {
	v, _ := strconv.Atoi(os.Getenv("TMPAB_EFC"))
	return max(v, 100)
}
