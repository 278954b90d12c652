package index

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestAdviseHuge checks that a large slab's aligned interior is marked
// for huge pages (VmFlags "hg" in /proc/self/smaps) and that a small one
// and a disabled advice leave it alone.
func TestAdviseHuge(t *testing.T) {
	if n, err := AdviseHuge(make([]float32, 1024)); n != 0 || err != nil {
		t.Fatalf("small slab: advised %d bytes, err %v", n, err)
	}
	UseHugePages(false)
	if n, _ := AdviseHuge(make([]float32, 16<<20/4)); n != 0 {
		t.Fatalf("disabled: advised %d bytes", n)
	}
	UseHugePages(true)
	v := make([]float32, 16<<20/4) // 16 MiB
	n, err := AdviseHuge(v)
	if err != nil {
		t.Skipf("madvise(MADV_HUGEPAGE) unavailable here: %v", err)
	}
	if n < 6*hugePageSize {
		t.Fatalf("advised %d bytes of a 16 MiB slab, want at least 12 MiB", n)
	}
	mid := uintptr(unsafe.Pointer(&v[len(v)/2]))
	flags, err := vmFlagsAt(mid)
	if err != nil {
		t.Skip(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Fatalf("VmFlags of the slab's mapping are %q, want hg", flags)
	}
	v[len(v)/2] = 3
	if v[len(v)/2] != 3 || v[0] != 0 {
		t.Fatal("slab contents changed")
	}
}

// vmFlagsAt returns the VmFlags line of the mapping holding addr.
func vmFlagsAt(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		field, _, _ := strings.Cut(line, " ")
		if rng, ok := strings.CutSuffix(field, ":"); ok { // a "Key:" line
			if rng == "VmFlags" && in {
				return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
			}
			continue
		}
		var lo, hi uintptr
		if _, err := fmt.Sscanf(field, "%x-%x", &lo, &hi); err == nil {
			in = lo <= addr && addr < hi
		}
	}
	return "", fmt.Errorf("no mapping holds %#x", addr)
}
