package segment

import (
	"context"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// modGrouper groups keys "k<i>" by i % 4 under field "m".
type modGrouper struct{ calls int }

func (g *modGrouper) Groups(keys []string) map[string]map[string][]uint32 {
	g.calls++
	groups := map[string][]uint32{}
	for pos, k := range keys {
		i, _ := strconv.Atoi(k[1:])
		v := strconv.Itoa(i % 4)
		groups[v] = append(groups[v], uint32(pos))
	}
	return map[string]map[string][]uint32{"m": groups}
}

func (g *modGrouper) MinGroupSize() int { return 10 }

// TestFilterCache: a filter's node set is built the second time it is
// asked (Matches called once), used by later searches (through the
// value's group links when named), rebuilt after a Touch of a point of
// the segment, bounded in number; sealed segments carry the links into
// the store and back.
func TestFilterCache(t *testing.T) {
	cfg := testConfig(t, 10) // sealed every 160 vectors, merged into one
	cfg.MaxSegments = 1
	gr := &modGrouper{}
	cfg.Grouper = gr
	w := newWorld(t, cfg, 7)
	for i := range 1200 {
		w.upsert("k" + strconv.Itoa(i))
	}
	if err := w.set.Optimize(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := w.set.Stats()
	if gr.calls == 0 || st.Indexed < 1000 || st.GroupLinked != st.Indexed || st.Segments != 2 {
		t.Fatalf("stats %+v after %d Groups calls", st, gr.calls)
	}
	matchCalls := 0
	flt := Filter{
		ID: "m=1", Field: "m", Value: "1",
		Accept: func(k string) bool { i, _ := strconv.Atoi(k[1:]); return i%4 == 1 },
		Matches: func() []string {
			matchCalls++
			var out []string
			for i := 1; i < 1200; i += 4 {
				out = append(out, "k"+strconv.Itoa(i))
			}
			return out
		},
	}
	f := func(wantSet, wantGroup uint64, wantMatches int) {
		t.Helper()
		hits := w.set.SearchFiltered(w.vec(), 10, index.SearchParams{Ef: 32}, flt)
		if len(hits) != 10 {
			t.Fatalf("%d hits", len(hits))
		}
		for _, h := range hits {
			if !flt.Accept(h.Key) {
				t.Fatalf("hit %s does not match", h.Key)
			}
		}
		st := w.set.Stats()
		if st.SetSearches != wantSet || st.GroupSearches != wantGroup || matchCalls != wantMatches {
			t.Fatalf("set %d group %d matches %d; want %d %d %d", st.SetSearches, st.GroupSearches, matchCalls, wantSet, wantGroup, wantMatches)
		}
	}
	f(0, 0, 0) // first ask: the filter callback
	f(1, 1, 1) // second: built, through the links
	f(2, 2, 1)
	// A touch makes it stale. The set served 2 searches (fewer than
	// fewUses), so the next one waits for 4 asks.
	w.set.Touch("k5")
	f(2, 2, 1)
	f(2, 2, 1)
	f(2, 2, 1)
	f(3, 3, 2)
	f(4, 4, 2)
	f(5, 5, 2)
	f(6, 6, 2)
	w.set.Touch("nope") // not in the segment: nothing stale
	f(7, 7, 2)
	// That set served 5 searches: its successor is built at the 2nd ask.
	w.set.Touch("k9")
	f(7, 7, 2)
	f(8, 8, 3)
	noField := flt
	noField.ID, noField.Field = "m=1 plain", ""
	w.set.SearchFiltered(w.vec(), 10, index.SearchParams{}, noField)
	w.set.SearchFiltered(w.vec(), 10, index.SearchParams{}, noField)
	if st := w.set.Stats(); st.SetSearches != 9 || st.GroupSearches != 8 {
		t.Fatalf("a set without a named value: %+v", st)
	}
	// Exact scoring uses the cached set too.
	hits := w.set.ScoreFiltered(w.vec(), 5, nil, index.SearchParams{}, flt)
	if len(hits) != 5 || matchCalls != 4 {
		t.Fatalf("ScoreFiltered: %v hits, %d Matches calls", hits, matchCalls)
	}
	seg := w.set.segs[0]
	for i := range 2 * maxCachedFilters {
		other := flt
		other.ID = "other" + strconv.Itoa(i)
		w.set.SearchFiltered(w.vec(), 3, index.SearchParams{}, other)
	}
	if n := len(seg.filters.entries); n > maxCachedFilters {
		t.Fatalf("%d cached filters", n)
	}

	// payload_m 0: no links, and no rebuild for them.
	off := testConfig(t, 10)
	off.MaxSegments, off.PayloadM, off.Grouper = 1, 0, gr
	w0 := newWorld(t, off, 8)
	for i := range 400 {
		w0.upsert("k" + strconv.Itoa(i))
	}
	w0.set.SetLinkFields([]string{"m"})
	calls0 := gr.calls
	if err := w0.set.Optimize(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := w0.set.Stats(); st.GroupLinked != 0 || st.Indexed == 0 || gr.calls != calls0 {
		t.Fatalf("payload_m 0: %+v, %d Groups calls", st, gr.calls-calls0)
	}

	// Reopened from the store: the links come back without a Groups call.
	set2, l, err := Open(cfg, w.store, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer set2.Close()
	for k, v := range w.ref {
		l.Add(k, v)
	}
	l.Finish()
	calls := gr.calls
	if st := set2.Stats(); st.GroupLinked != w.set.Stats().GroupLinked || st.Indexed != w.set.Stats().Indexed || gr.calls != calls {
		t.Fatalf("reopened: %+v", st)
	}
}

// TestFilterLinks: a filter without value links that keeps being asked
// gets links of its own from the optimizer, later searches walk them
// (also after a touch), and they are not persisted.
func TestFilterLinks(t *testing.T) {
	cfg := testConfig(t, 10)
	cfg.MaxSegments = 1
	cfg.Grouper = &modGrouper{}
	w := newWorld(t, cfg, 9)
	for i := range 1200 {
		w.upsert("k" + strconv.Itoa(i))
	}
	ctx := context.Background()
	if err := w.set.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	// i < 300: a "range" (no field named), a quarter of the points.
	in := func(k string) bool { i, _ := strconv.Atoi(k[1:]); return i < 300 }
	flt := Filter{ID: "i<300", Accept: in, Matches: func() []string {
		var out []string
		for i := range 300 {
			out = append(out, "k"+strconv.Itoa(i))
		}
		return out
	}}
	search := func() {
		t.Helper()
		hits := w.set.SearchFiltered(w.vec(), 10, index.SearchParams{Ef: 32}, flt)
		if len(hits) != 10 {
			t.Fatalf("%d hits", len(hits))
		}
		for _, h := range hits {
			if !in(h.Key) {
				t.Fatalf("hit %s does not match", h.Key)
			}
		}
	}
	for range 1 + linkAfterUses {
		search()
	}
	if st := w.set.Stats(); st.GroupSearches != 0 {
		t.Fatalf("before the links: %+v", st)
	}
	if err := w.set.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.set.Stats()
	if st.FilterLinks != 1 {
		t.Fatalf("not linked: %+v", st)
	}
	search()
	if got := w.set.Stats().GroupSearches; got != 1 {
		t.Fatalf("%d searches through the filter's links", got)
	}
	w.set.Touch("k7")
	search() // first ask after the touch: the callback
	search() // rebuilt, planned against the links
	if got := w.set.Stats().GroupSearches; got != 2 {
		t.Fatalf("after a touch: %d searches through the filter's links", got)
	}
	set2, l, err := Open(cfg, w.store, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer set2.Close()
	for k, v := range w.ref {
		l.Add(k, v)
	}
	l.Finish()
	if st := set2.Stats(); st.FilterLinks != 0 || st.GroupLinked == 0 {
		t.Fatalf("reopened: %+v", st)
	}
}
