package distance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kernelSet is one implementation of the three kernels; minLen is the
// shortest input it accepts (the dispatchers send shorter ones elsewhere).
type kernelSet struct {
	name    string
	minLen  int
	dot, l2 func(a, b []float32) float32
	l1      func(a, b []float32) float32
}

func refL2Squared(a, b []float32) float64 { d := refL2(a, b); return d * d }

// TestKernelsMatchReference checks every compiled kernel set and the
// exported dispatchers against the float64 reference, over lengths that
// cover every unrolled step, register width and tail, with b longer than a
// and inputs starting at unaligned offsets.
func TestKernelsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	sets := append(kernelSets(), kernelSet{"exported", 0, Dot, L2Squared, L1})
	t.Logf("active kernel: %s; testing %d sets", Kernel(), len(sets))
	f := func(ks kernelSet, n, off int) {
		t.Helper()
		a := randVec(r, n+off)[off:]
		b := randVec(r, n+off+3)[off:] // longer than a: only len(a) counts
		check := func(kind string, got float32, want float64) {
			t.Helper()
			tol := 1e-4 * math.Max(1, math.Abs(want))
			if math.Abs(float64(got)-want) > tol {
				t.Fatalf("%s %s n=%d off=%d: got %v, want %v", ks.name, kind, n, off, got, want)
			}
		}
		check("dot", ks.dot(a, b), refDot(a, b[:n]))
		check("l2", ks.l2(a, b), refL2Squared(a, b[:n]))
		check("l1", ks.l1(a, b), refL1(a, b[:n]))
	}
	for _, ks := range sets {
		for n := ks.minLen; n <= 200; n++ {
			f(ks, n, n%3)
			r := KernelsFor(n)
			f(kernelSet{fmt.Sprintf("KernelsFor(%d)", n), n, r.Dot, r.L2Squared, r.L1}, n, 1)
		}
		for _, n := range []int{255, 256, 257, 783, 784, 1535, 1536, 4099} {
			f(ks, n, 1)
		}
	}
}

// TestKernelsSpecialValues: zeros, equal inputs and sign handling in L1.
func TestKernelsSpecialValues(t *testing.T) {
	for _, ks := range append(kernelSets(), kernelSet{"exported", 0, Dot, L2Squared, L1}) {
		for _, n := range []int{16, 33, 100} {
			n = max(n, ks.minLen)
			a := make([]float32, n)
			b := make([]float32, n)
			for i := range a {
				a[i] = float32(i%5) - 2
				b[i] = -a[i]
			}
			if got := ks.l2(a, a); got != 0 {
				t.Fatalf("%s: l2(a,a) = %v", ks.name, got)
			}
			if got := ks.l1(a, a); got != 0 {
				t.Fatalf("%s: l1(a,a) = %v", ks.name, got)
			}
			var want float64
			for i := range a {
				want += 2 * math.Abs(float64(a[i]))
			}
			if got := ks.l1(a, b); float64(got) != want {
				t.Fatalf("%s: l1(a,-a) = %v, want %v", ks.name, got, want)
			}
			if got := ks.dot(a, make([]float32, n)); got != 0 {
				t.Fatalf("%s: dot with zero = %v", ks.name, got)
			}
		}
	}
}

func BenchmarkKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{128, 784, 1536} {
		x, y := randVec(r, n), randVec(r, n)
		for _, ks := range kernelSets() {
			for _, k := range []struct {
				name string
				fn   func(a, b []float32) float32
			}{{"dot", ks.dot}, {"l2", ks.l2}, {"l1", ks.l1}} {
				b.Run(fmt.Sprintf("%s/%s/%d", k.name, ks.name, n), func(b *testing.B) {
					b.SetBytes(int64(8 * n))
					for b.Loop() {
						k.fn(x, y)
					}
				})
			}
		}
	}
}
