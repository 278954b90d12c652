//go:build !goexperiment.simd || !amd64

package distance

// kernelSets lists every kernel set compiled into this build that the CPU
// can run, for the reference and benchmark tests.
func kernelSets() []kernelSet {
	return []kernelSet{{"go-unrolled", 1, dotUnrolled, l2Unrolled, l1Unrolled}}
}
