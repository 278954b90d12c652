//go:build !amd64

package hnsw

import "unsafe"

// prefetch is a no-op where no assembly is provided.
func prefetch(unsafe.Pointer) {}

// prefetchBytes is a no-op where no assembly is provided.
func prefetchBytes(unsafe.Pointer, int) {}
