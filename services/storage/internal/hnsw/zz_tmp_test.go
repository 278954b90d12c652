package hnsw

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

func BenchmarkTmpMem(b *testing.B) {
	const n, dim, batch = 60000, 784, 14
	vecs := make([]float32, n*dim)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range vecs {
		vecs[i] = r.Float32()
	}
	q := vecs[:dim:dim]
	ids := make([]uint32, 1<<16)
	for i := range ids {
		ids[i] = uint32(r.IntN(n))
	}
	k := distance.KernelsFor(dim).L2Squared
	vec := func(id uint32) []float32 { o := int(id) * dim; return vecs[o : o+dim : o+dim] }
	var sink float32
	run := func(name string, f func(ids []uint32)) {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				j := (i * batch) & (len(ids) - 1)
				if j+batch > len(ids) {
					j = 0
				}
				f(ids[j : j+batch])
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/dist")
		})
	}
	run("none", func(ids []uint32) {
		for _, id := range ids {
			sink += k(q, vec(id))
		}
	})
	run("batch2lines", func(ids []uint32) {
		for _, id := range ids {
			prefetch(unsafe.Pointer(&vec(id)[0]))
		}
		for _, id := range ids {
			sink += k(q, vec(id))
		}
	})
	run("next1", func(ids []uint32) {
		for x, id := range ids {
			if x+1 < len(ids) {
				prefetch(unsafe.Pointer(&vec(ids[x+1])[0]))
			}
			sink += k(q, vec(id))
		}
	})
	whole := func(id uint32) {
		v := vec(id)
		for o := 0; o < dim; o += 32 {
			prefetch(unsafe.Pointer(&v[o]))
		}
	}
	run("nextWhole", func(ids []uint32) {
		whole(ids[0])
		for x, id := range ids {
			if x+1 < len(ids) {
				whole(ids[x+1])
			}
			sink += k(q, vec(id))
		}
	})
	run("next2Whole", func(ids []uint32) {
		whole(ids[0])
		whole(ids[1])
		for x, id := range ids {
			if x+2 < len(ids) {
				whole(ids[x+2])
			}
			sink += k(q, vec(id))
		}
	})
	run("batch2+nextWhole", func(ids []uint32) {
		for _, id := range ids {
			prefetch(unsafe.Pointer(&vec(id)[0]))
		}
		for x, id := range ids {
			if x+1 < len(ids) {
				whole(ids[x+1])
			}
			sink += k(q, vec(id))
		}
	})
	for _, ahead := range []int{1, 2, 3, 4, 6} {
		run(fmt.Sprintf("asmAhead%d", ahead), func(ids []uint32) {
			for x := 0; x < ahead && x < len(ids); x++ {
				prefetchLines(unsafe.Pointer(&vec(ids[x])[0]), 49)
			}
			for x, id := range ids {
				if x+ahead < len(ids) {
					prefetchLines(unsafe.Pointer(&vec(ids[x+ahead])[0]), 49)
				}
				sink += k(q, vec(id))
			}
		})
	}
	for _, ahead := range []int{1, 2, 3} {
		run(fmt.Sprintf("stride128Ahead%d", ahead), func(ids []uint32) {
			for x := 0; x < ahead && x < len(ids); x++ {
				prefetchStride(unsafe.Pointer(&vec(ids[x])[0]), 25, 128)
			}
			for x, id := range ids {
				if x+ahead < len(ids) {
					prefetchStride(unsafe.Pointer(&vec(ids[x+ahead])[0]), 25, 128)
				}
				sink += k(q, vec(id))
			}
		})
	}
	run("next3Whole", func(ids []uint32) {
		whole(ids[0])
		whole(ids[1])
		whole(ids[2])
		for x, id := range ids {
			if x+3 < len(ids) {
				whole(ids[x+3])
			}
			sink += k(q, vec(id))
		}
	})
	run("allWhole", func(ids []uint32) {
		for _, id := range ids {
			whole(id)
		}
		for _, id := range ids {
			sink += k(q, vec(id))
		}
	})
	run("hot", func(ids []uint32) {
		for range ids {
			sink += k(q, vec(5))
		}
	})
	_ = sink
}
