package hnsw

import "unsafe"

// prefetch asks the CPU to start loading the two cache lines from p
// (PREFETCHT0). It never faults.
//
//go:noescape
func prefetch(p unsafe.Pointer)

//go:noescape
func prefetchBytes(p unsafe.Pointer, n int)
