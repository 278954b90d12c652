package distance

import (
	"math"
	"math/rand/v2"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// Plain reference implementations in float64.
func refDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func refL2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

func refL1(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i]) - float64(b[i]))
	}
	return s
}

func refCosine(a, b []float32) float64 {
	na, nb := math.Sqrt(refDot(a, a)), math.Sqrt(refDot(b, b))
	if na == 0 || nb == 0 {
		return 0
	}
	return refDot(a, b) / (na * nb)
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func TestMetricsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := func(d shoalv1.Distance, ref func(a, b []float32) float64) {
		t.Helper()
		m, err := For(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 100, 127, 128, 1536} {
			for range 20 {
				a, b := randVec(r, n), randVec(r, n)
				got := float64(m.Score(m.Prepare(a), m.Prepare(b)))
				want := ref(a, b)
				tol := 1e-4 * math.Max(1, math.Abs(want))
				if math.Abs(got-want) > tol {
					t.Fatalf("%v n=%d: got %v, want %v", d, n, got, want)
				}
			}
		}
	}
	f(shoalv1.Distance_DISTANCE_DOT, refDot)
	f(shoalv1.Distance_DISTANCE_COSINE, refCosine)
	f(shoalv1.Distance_DISTANCE_EUCLID, refL2)
	f(shoalv1.Distance_DISTANCE_MANHATTAN, refL1)
}

func TestOrderingAndThreshold(t *testing.T) {
	f := func(d shoalv1.Distance, lower bool) {
		t.Helper()
		m, err := For(d)
		if err != nil {
			t.Fatal(err)
		}
		if m.LowerIsBetter() != lower {
			t.Fatalf("%v: LowerIsBetter = %v", d, m.LowerIsBetter())
		}
		if m.Better(1, 2) != lower || m.Better(2, 1) == lower || m.Better(1, 1) {
			t.Fatalf("%v: Better is wrong", d)
		}
		// The threshold is inclusive: a lower bound for similarities, an
		// upper bound for distances.
		if !m.Passes(1, 1) || m.Passes(0.5, 1) == !lower || m.Passes(2, 1) == lower {
			t.Fatalf("%v: Passes is wrong", d)
		}
	}
	f(shoalv1.Distance_DISTANCE_COSINE, false)
	f(shoalv1.Distance_DISTANCE_DOT, false)
	f(shoalv1.Distance_DISTANCE_EUCLID, true)
	f(shoalv1.Distance_DISTANCE_MANHATTAN, true)
	if _, err := For(shoalv1.Distance_DISTANCE_UNSPECIFIED); err == nil {
		t.Fatal("want an error for an unspecified distance")
	}
}

func TestPrepare(t *testing.T) {
	cos, _ := For(shoalv1.Distance_DISTANCE_COSINE)
	in := []float32{3, 4}
	out := cos.Prepare(in)
	if in[0] != 3 || in[1] != 4 {
		t.Fatalf("Prepare modified its input: %v", in)
	}
	if math.Abs(float64(out[0])-0.6) > 1e-6 || math.Abs(float64(out[1])-0.8) > 1e-6 {
		t.Fatalf("normalised = %v", out)
	}
	zero := cos.Prepare([]float32{0, 0})
	if zero[0] != 0 || zero[1] != 0 {
		t.Fatalf("zero vector became %v", zero)
	}
	dot, _ := For(shoalv1.Distance_DISTANCE_DOT)
	if got := dot.Prepare(in); &got[0] != &in[0] {
		t.Fatal("Dot must not copy")
	}
}

func BenchmarkDot1536(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randVec(r, 1536), randVec(r, 1536)
	for b.Loop() {
		Dot(x, y)
	}
}
