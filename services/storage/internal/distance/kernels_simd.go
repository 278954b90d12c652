//go:build goexperiment.simd && amd64

package distance

import "simd/archsimd"

// With GOEXPERIMENT=simd on amd64, Dot, L2Squared and L1 use 512-bit
// kernels when the CPU has AVX-512 (F+CD+BW+DQ+VL), 256-bit AVX2+FMA
// kernels when it has those, and the portable unrolled kernels otherwise
// or for vectors shorter than one SIMD register. Every SIMD kernel ends
// with archsimd.ClearAVXUpperBits so that SSE code running after it pays
// no transition penalty.
var (
	haveAVX512 = archsimd.X86.AVX512()
	haveAVX2   = archsimd.X86.AVX2() && archsimd.X86.FMA()
)

// Dot returns the dot product of a and b (len(b) >= len(a)).
func Dot(a, b []float32) float32 {
	switch {
	case haveAVX512 && len(a) >= 16:
		return dotAVX512(a, b)
	case haveAVX2 && len(a) >= 8:
		return dotAVX2(a, b)
	}
	return dotUnrolled(a, b)
}

// L2Squared returns the squared Euclidean distance between a and b
// (len(b) >= len(a)).
func L2Squared(a, b []float32) float32 {
	switch {
	case haveAVX512 && len(a) >= 16:
		return l2AVX512(a, b)
	case haveAVX2 && len(a) >= 8:
		return l2AVX2(a, b)
	}
	return l2Unrolled(a, b)
}

// L1 returns the Manhattan distance between a and b (len(b) >= len(a)).
func L1(a, b []float32) float32 {
	switch {
	case haveAVX512 && len(a) >= 16:
		return l1AVX512(a, b)
	case haveAVX2 && len(a) >= 8:
		return l1AVX2(a, b)
	}
	return l1Unrolled(a, b)
}

// Kernel names the kernel set in use: "avx512", "avx2-fma" or
// "go-unrolled" (a CPU without AVX2+FMA).
func Kernel() string {
	switch {
	case haveAVX512:
		return "avx512"
	case haveAVX2:
		return "avx2-fma"
	}
	return "go-unrolled"
}

// KernelsFor returns the kernels for vectors of length dim, resolved once
// so that hot loops skip the per-call dispatch.
func KernelsFor(dim int) Kernels {
	switch {
	case haveAVX512 && dim >= 16:
		return Kernels{Dot: dotAVX512, L2Squared: l2AVX512, L1: l1AVX512}
	case haveAVX2 && dim >= 8:
		return Kernels{Dot: dotAVX2, L2Squared: l2AVX2, L1: l1AVX2}
	}
	return Kernels{Dot: dotUnrolled, L2Squared: l2Unrolled, L1: l1Unrolled}
}
