package index

import "sync/atomic"

var hugePages atomic.Bool

func init() { hugePages.Store(true) }

// UseHugePages sets whether vector slabs (flat indexes' and HNSW graphs')
// allocated from now on ask Linux for transparent huge pages (on by
// default; see AdviseHuge). Benchmarks turn it off to measure without it.
func UseHugePages(on bool) { hugePages.Store(on) }
