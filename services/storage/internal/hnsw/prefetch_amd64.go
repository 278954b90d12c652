package hnsw

import "unsafe"

// prefetch asks the CPU to start loading the two cache lines from p
// (PREFETCHT0). It never faults.
//
//go:noescape
func prefetch(p unsafe.Pointer)

// prefetchBytes prefetches the cache lines covering n bytes from p (at
// least two lines, rounded up to an even number).
//
//go:noescape
func prefetchBytes(p unsafe.Pointer, n int)
