package hnsw

import "sync/atomic"

var hugePages atomic.Bool

func init() { hugePages.Store(true) }

// UseHugePages sets whether graphs created or grown from now on ask Linux
// for transparent huge pages for their vector slabs (on by default; see
// adviseHuge). Benchmarks turn it off to measure without it.
func UseHugePages(on bool) { hugePages.Store(on) }
