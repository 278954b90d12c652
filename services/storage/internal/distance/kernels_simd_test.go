//go:build goexperiment.simd && amd64

package distance

// kernelSets lists every kernel set compiled into this build that the CPU
// can run, for the reference and benchmark tests.
func kernelSets() []kernelSet {
	out := []kernelSet{{"go-unrolled", 1, dotUnrolled, l2Unrolled, l1Unrolled}}
	if haveAVX2 {
		out = append(out, kernelSet{"avx2-fma", 8, dotAVX2, l2AVX2, l1AVX2})
	}
	if haveAVX512 {
		out = append(out, kernelSet{"avx512", 16, dotAVX512, l2AVX512, l1AVX512})
	}
	return out
}
