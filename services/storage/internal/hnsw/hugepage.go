package hnsw

import "github.com/shoaldb/shoal/services/storage/internal/index"

// UseHugePages sets whether vector slabs allocated from now on ask Linux
// for transparent huge pages (see index.UseHugePages).
func UseHugePages(on bool) { index.UseHugePages(on) }
