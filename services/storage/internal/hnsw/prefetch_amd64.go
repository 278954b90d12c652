package hnsw

import "unsafe"

// prefetch asks the CPU to start loading the two cache lines from p
// (PREFETCHT0). It never faults.
//
//go:noescape
func prefetch(p unsafe.Pointer)

//go:noescape
func prefetchLines(p unsafe.Pointer, n int)

//go:noescape
func prefetchStride(p unsafe.Pointer, n int, stride int)
