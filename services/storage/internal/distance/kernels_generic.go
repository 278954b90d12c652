//go:build !goexperiment.simd || !amd64

package distance

// Without GOEXPERIMENT=simd (or off amd64) the portable unrolled kernels
// are the only ones; these wrappers inline away.

// Dot returns the dot product of a and b (len(b) >= len(a)).
func Dot(a, b []float32) float32 { return dotUnrolled(a, b) }

// L2Squared returns the squared Euclidean distance between a and b
// (len(b) >= len(a)).
func L2Squared(a, b []float32) float32 { return l2Unrolled(a, b) }

// L1 returns the Manhattan distance between a and b (len(b) >= len(a)).
func L1(a, b []float32) float32 { return l1Unrolled(a, b) }

// Kernel names the kernel set in use: "go-unrolled" in this build.
func Kernel() string { return "go-unrolled" }

// KernelsFor returns the kernels for vectors of length dim, resolved once
// so that hot loops skip the per-call dispatch.
func KernelsFor(dim int) Kernels {
	return Kernels{Dot: dotUnrolled, L2Squared: l2Unrolled, L1: l1Unrolled}
}
