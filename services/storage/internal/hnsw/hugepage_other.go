//go:build !linux

package hnsw

// adviseHuge does nothing off Linux.
func adviseHuge([]float32) (int, error) { return 0, nil }
