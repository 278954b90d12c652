package container

import (
	"fmt"
	"sort"
	"sync"
)

// ledger remembers every write a router acknowledged, so that a test can
// check at any time that none was lost: each acknowledged point must be
// readable, with the payload of its last acknowledged write.
type ledger struct {
	mu    sync.Mutex
	acked map[string]map[uint64]string // collection -> id -> batch
}

func newLedger() *ledger { return &ledger{acked: map[string]map[uint64]string{}} }

// upsert writes pts through r (wait=true) and records them once the
// router acknowledges the write.
func (l *ledger) upsert(r *rest, collection string, pts []point) error {
	if err := r.do("PUT", "/collections/"+collection+"/points?wait=true", map[string]any{"points": pts}, nil); err != nil {
		return err
	}
	l.record(collection, pts)
	return nil
}

// record adds acknowledged points.
func (l *ledger) record(collection string, pts []point) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.acked[collection]
	if m == nil {
		m = map[uint64]string{}
		l.acked[collection] = m
	}
	for _, p := range pts {
		m[p.ID] = p.Payload["batch"].(string)
	}
}

// count is the number of acknowledged points of a collection.
func (l *ledger) count(collection string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked[collection])
}

// verify reads every acknowledged point back through r and reports the
// first lost or stale one, and how many were checked.
func (l *ledger) verify(r *rest) (int, error) {
	l.mu.Lock()
	want := map[string]map[uint64]string{}
	for c, m := range l.acked {
		want[c] = map[uint64]string{}
		for id, b := range m {
			want[c][id] = b
		}
	}
	l.mu.Unlock()
	checked := 0
	for c, m := range want {
		ids := make([]uint64, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for start := 0; start < len(ids); start += 200 {
			chunk := ids[start:min(start+200, len(ids))]
			var got []retrieved
			if err := r.do("POST", "/collections/"+c+"/points", map[string]any{"ids": chunk, "with_payload": true}, &got); err != nil {
				return checked, err
			}
			seen := map[uint64]string{}
			for _, p := range got {
				b, _ := p.Payload["batch"].(string)
				seen[p.ID] = b
			}
			for _, id := range chunk {
				b, ok := seen[id]
				switch {
				case !ok:
					return checked, fmt.Errorf("collection %s: acknowledged point %d is lost", c, id)
				case b != m[id]:
					return checked, fmt.Errorf("collection %s: point %d has batch %q, want the acknowledged %q", c, id, b, m[id])
				}
				checked++
			}
		}
	}
	return checked, nil
}
