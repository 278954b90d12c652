package distance

import "math"

// Kernels are the three distance kernels for vectors of one length (see
// KernelsFor). Each assumes len(b) >= len(a) == that length.
type Kernels struct {
	Dot, L2Squared, L1 func(a, b []float32) float32
}

// The portable kernels below are unrolled four ways with independent
// accumulators, which lets the CPU overlap the floating-point additions.
// They assume len(b) >= len(a); callers check lengths once, not per call.
// Dot, L2Squared and L1 (kernels_generic.go, kernels_simd.go) call them
// unless a SIMD kernel is compiled in and the CPU supports it.

// dotUnrolled returns the dot product of a and b.
func dotUnrolled(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// l2Unrolled returns the squared Euclidean distance between a and b.
func l2Unrolled(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < n; i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// l1Unrolled returns the Manhattan distance between a and b.
func l1Unrolled(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += abs(a[i] - b[i])
		s1 += abs(a[i+1] - b[i+1])
		s2 += abs(a[i+2] - b[i+2])
		s3 += abs(a[i+3] - b[i+3])
	}
	for ; i < n; i++ {
		s0 += abs(a[i] - b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// Normalize scales v in place to unit length. A zero vector stays zero
// (Qdrant does the same; its cosine score with anything is then 0).
func Normalize(v []float32) {
	norm := float32(math.Sqrt(float64(Dot(v, v))))
	if norm == 0 || math.IsInf(float64(norm), 0) || math.IsNaN(float64(norm)) {
		return
	}
	inv := 1 / norm
	for i := range v {
		v[i] *= inv
	}
}

func abs(x float32) float32 {
	return math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
}
