//go:build !linux

package index

// AdviseHuge does nothing off Linux.
func AdviseHuge([]float32) (int, error) { return 0, nil }
