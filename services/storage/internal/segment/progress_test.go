package segment

import (
	"context"
	"regexp"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func sumPoints(infos []SegmentInfo) int {
	n := 0
	for _, i := range infos {
		n += i.Points
	}
	return n
}

func TestProgressReportsJobsQueueAndIdleSegments(t *testing.T) {
	w := newWorld(t, testConfig(t, 30), 7) // seal past 480 points
	if p := w.set.Progress(); len(p.Running)+len(p.Completed)+len(p.Queued) != 0 || len(p.Idle) != 1 || p.Idle[0].Points != 0 {
		t.Fatalf("fresh set: %+v", p)
	}
	for i := range 2000 {
		w.upsert(key(i))
	}
	if err := w.set.Optimize(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := w.set.Progress()
	if len(p.Running) != 0 || len(p.Queued) != 0 {
		t.Fatalf("optimized set still busy: %+v", p)
	}
	if len(p.Completed) == 0 {
		t.Fatal("no completed optimization")
	}
	indexed := 0
	for i, op := range p.Completed {
		if !op.Done || op.Err != "" || !uuidRE.MatchString(op.UUID) || op.Started.IsZero() || op.Finished.Before(op.Started) {
			t.Fatalf("completed %d: %+v", i, op)
		}
		if i > 0 && op.Finished.After(p.Completed[i-1].Finished) {
			t.Fatalf("completed not newest first: %+v", p.Completed)
		}
		if op.Points != sumPoints(op.Segments) || len(op.Segments) == 0 {
			t.Fatalf("completed %d points %d, segments %+v", i, op.Points, op.Segments)
		}
		if op.Optimizer == "indexing" {
			indexed += op.Points
		}
	}
	if indexed < 1500 {
		t.Fatalf("indexing jobs covered %d points of 2000", indexed)
	}
	// Every segment is idle, and they hold every point.
	if len(p.Idle) != w.set.Stats().Segments || sumPoints(p.Idle) != w.set.Len() {
		t.Fatalf("idle %+v, stats %+v, len %d", p.Idle, w.set.Stats(), w.set.Len())
	}
	seen := map[string]bool{}
	for _, s := range p.Idle {
		if !uuidRE.MatchString(s.UUID) || seen[s.UUID] {
			t.Fatalf("segment uuid %q", s.UUID)
		}
		seen[s.UUID] = true
	}

	// With the optimizer stopped, the queue shows what is due: a sealed
	// segment emptied by deletes, and an appendable segment past the
	// threshold.
	w.set.Close()
	w.set.mu.RLock()
	victim := w.set.segs[0]
	var keys []string
	victim.graph.Live(func(k string, _ []float32) bool { keys = append(keys, k); return true })
	w.set.mu.RUnlock()
	for _, k := range keys {
		w.delete(k)
	}
	for i := 2000; i < 2600; i++ {
		w.upsert(key(i))
	}
	w.set.mu.RLock()
	appendable := w.set.appendable.len()
	w.set.mu.RUnlock()
	if appendable < 600 {
		t.Fatalf("appendable segment holds %d points", appendable)
	}
	p = w.set.Progress()
	kinds := map[string]int{}
	for _, q := range p.Queued {
		kinds[q.Optimizer]++
	}
	if kinds["drop_empty"] != 1 || kinds["indexing"] != 1 {
		t.Fatalf("queue %+v", p.Queued)
	}
	for _, q := range p.Queued {
		if q.Optimizer == "indexing" && (len(q.Segments) != 1 || q.Segments[0].Points != appendable) {
			t.Fatalf("seal of the appendable segment: %+v", q)
		}
	}
	if len(p.Idle)+len(p.Queued) != w.set.Stats().Segments {
		t.Fatalf("idle %d + queued %d != %d segments", len(p.Idle), len(p.Queued), w.set.Stats().Segments)
	}
}
