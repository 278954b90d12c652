package index

import (
	"syscall"
	"unsafe"
)

// hugePageSize is the size of a transparent huge page with 4 KiB base
// pages (amd64, and arm64 as usually configured).
const hugePageSize = 2 << 20

// AdviseHuge asks the kernel to back the 2 MiB-aligned interior of v with
// transparent huge pages (MADV_HUGEPAGE), when UseHugePages is on and v
// spans at least two huge pages. Vectors are read at random, so with
// 4 KiB pages nearly every scored vector also misses the TLB; with huge
// pages a slab of a few hundred MiB fits it. The advice applies to pages
// not yet touched (a fresh slab) and lets khugepaged merge the rest. A
// kernel without THP rejects the call and one with THP set to "never"
// ignores it; either way nothing else changes. It returns the advised
// range's length and the call's error.
func AdviseHuge(v []float32) (int, error) {
	if !hugePages.Load() {
		return 0, nil
	}
	n := uintptr(len(v)) * 4
	if n < 2*hugePageSize {
		return 0, nil
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	lo := (start + hugePageSize - 1) &^ (hugePageSize - 1)
	hi := (start + n) &^ (hugePageSize - 1)
	if hi <= lo {
		return 0, nil
	}
	b := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(v)), lo-start)), hi-lo)
	return len(b), syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
