package hnsw

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// bandGroups groups node ids by label/width, as a field "band" whose
// value 0 selects labels below width.
func bandGroups(labels []int, width int) map[string][]uint32 {
	out := map[string][]uint32{}
	for i, l := range labels {
		v := strconv.Itoa(l / width)
		out[v] = append(out[v], uint32(i))
	}
	return out
}

// linkedGraph is groupData's graph with fields band10 and band50 linked
// (groups of ~500 and ~2500) and band1 offered but below minSize.
func linkedGraph(t *testing.T) (dataset, *Graph, []int) {
	t.Helper()
	ds, g, labels, _ := groupData(t)
	for _, w := range []int{1, 10, 50} {
		if err := g.LinkField(context.Background(), "band"+strconv.Itoa(w), bandGroups(labels, w), 0, 100, 2); err != nil {
			t.Fatal(err)
		}
	}
	return ds, g, labels
}

// TestSearchGroup: a search through a value's links returns only the
// set's live points, with recall ≥ 0.95 against an exact search of the
// set; links never leave their group; values below minSize are not
// linked; a set that is not mostly the group's gets no plan.
func TestSearchGroup(t *testing.T) {
	ds, g, labels := linkedGraph(t)
	fields := g.Fields()
	if _, ok := fields["band1"]; !ok || fields["band1"].Groups() != 0 {
		t.Fatalf("band1 (groups of ~50 < 100) linked: %+v", fields["band1"])
	}
	if fields["band10"].Groups() != 10 || fields["band50"].Groups() != 2 || fields["band10"].Linked() != len(ds.keys) {
		t.Fatalf("band10 %d groups %d linked, band50 %d groups", fields["band10"].Groups(), fields["band10"].Linked(), fields["band50"].Groups())
	}
	for name, f := range fields {
		for id := range f.groupOf {
			for _, nb := range f.list(uint32(id)) {
				if f.groupOf[nb] != f.groupOf[id] {
					t.Fatalf("%s: link %d-%d across groups", name, id, nb)
				}
			}
		}
	}
	for i := 0; i < len(ds.keys); i += 41 {
		g.Delete(ds.keys[i])
	}
	live := func(i int) bool { return i%41 != 0 }
	for _, sel := range []int{10, 50} {
		in := func(i int) bool { return labels[i] < sel }
		var keys []string
		for i, k := range ds.keys {
			if in(i) {
				keys = append(keys, k)
			}
		}
		set := g.NodeSet(keys)
		field := "band" + strconv.Itoa(sel)
		plan := g.PlanGroup(set, field, "0")
		if plan == nil || plan.Unlinked() != 0 {
			t.Fatalf("%d%%: plan %+v", sel, plan)
		}
		if g.PlanGroup(set, "band1", "0") != nil || g.PlanGroup(set, field, "7") != nil || g.PlanGroup(set, "nope", "0") != nil {
			t.Fatalf("%d%%: a plan for unlinked values", sel)
		}
		half := g.NodeSet(keys[:len(keys)/3])
		if g.PlanGroup(half, field, "0") != nil {
			t.Fatalf("%d%%: a plan for a third of the group", sel)
		}
		ref := ds.flat(func(i int) bool { return in(i) && live(i) })
		r := rand.New(rand.NewPCG(uint64(sel), 5))
		var sum float64
		const nq = 60
		for range nq {
			q := ds.query(r)
			got := g.SearchGroup(q, 10, plan, index.SearchParams{Ef: 24})
			if len(got) != 10 {
				t.Fatalf("%d%%: %d hits", sel, len(got))
			}
			for _, h := range got {
				if _, ok := ref.Vector(h.Key); !ok {
					t.Fatalf("%d%%: %s is not a live point of the set", sel, h.Key)
				}
			}
			sum += recall(got, ref.Search(q, 10, index.SearchParams{}))
		}
		if rc := sum / nq; rc < 0.95 {
			t.Fatalf("%d%%: recall %.3f", sel, rc)
		}
	}
}

// TestSearchGroupUnlinked: matches the links do not reach (their value
// changed to the searched one after LinkField) are scored exactly, points
// whose value changed away are never returned, and too many unlinked
// matches give no plan.
func TestSearchGroupUnlinked(t *testing.T) {
	ds, g, labels := linkedGraph(t)
	var keys, moved []string
	left := map[string]bool{}
	for i, k := range ds.keys {
		switch {
		case labels[i] < 10 && len(left) < 20:
			left[k] = true // changed away from band10 = 0
		case labels[i] < 10:
			keys = append(keys, k)
		case labels[i] >= 90 && len(moved) < 30:
			moved = append(moved, k) // changed to band10 = 0
			keys = append(keys, k)
		}
	}
	set := g.NodeSet(keys)
	plan := g.PlanGroup(set, "band10", "0")
	if plan == nil || plan.Unlinked() != len(moved) {
		t.Fatalf("plan %+v, want %d unlinked", plan, len(moved))
	}
	for _, k := range moved {
		v, _ := g.Vector(k)
		hits := g.SearchGroup(v, 3, plan, index.SearchParams{Ef: 16})
		if len(hits) == 0 || hits[0].Key != k {
			t.Fatalf("unlinked %s not found by its own vector: %v", k, hits)
		}
	}
	for k := range left {
		v, _ := g.Vector(k)
		for _, h := range g.SearchGroup(v, 10, plan, index.SearchParams{Ef: 16}) {
			if left[h.Key] {
				t.Fatalf("%s returned after leaving the value", h.Key)
			}
		}
	}
	var many []string
	for i, k := range ds.keys {
		if labels[i] < 10 || labels[i] >= 80 {
			many = append(many, k)
		}
	}
	if g.PlanGroup(g.NodeSet(many), "band10", "0") != nil {
		t.Fatal("a plan with two thirds of the set unlinked")
	}
}

// TestFieldLinksCodec: Marshal keeps the links (same search results after
// Unmarshal), a version-1 encoding (no links) still decodes, a link out
// of its group is corrupt, and LinkField refuses unknown nodes.
func TestFieldLinksCodec(t *testing.T) {
	ds, g, labels := linkedGraph(t)
	var keys []string
	for i, k := range ds.keys {
		if labels[i] < 50 {
			keys = append(keys, k)
		}
	}
	blob := g.Marshal()
	g2, err := Unmarshal(blob)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := g.PlanGroup(g.NodeSet(keys), "band50", "0"), g2.PlanGroup(g2.NodeSet(keys), "band50", "0")
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		q := ds.query(r)
		a, b := g.SearchGroup(q, 10, p1, index.SearchParams{Ef: 20}), g2.SearchGroup(q, 10, p2, index.SearchParams{Ef: 20})
		if !slices.Equal(a, b) {
			t.Fatalf("after Unmarshal\n got %v\nwant %v", b, a)
		}
	}

	reseal := func(b []byte) []byte {
		b = b[:len(b)-4]
		return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	plain := build(t, Config{}, makeDataset(t, shoalv1.Distance_DISTANCE_EUCLID, 50, 4, 3), 1).Marshal()
	v1 := append([]byte(nil), plain[:len(plain)-8]...) // drop "0 fields" and the CRC
	binary.LittleEndian.PutUint32(v1[8:], 1)
	v1 = reseal(append(v1, 0, 0, 0, 0))
	if _, err := Unmarshal(v1); err != nil {
		t.Fatalf("version 1: %v", err)
	}

	// The last word before the CRC is a link of band50's last list.
	bad := append([]byte(nil), blob...)
	n := len(bad) - 8
	id := binary.LittleEndian.Uint32(bad[n:])
	for j, l := range labels {
		if l/50 != labels[id]/50 {
			binary.LittleEndian.PutUint32(bad[n:], uint32(j))
			break
		}
	}
	if _, err := Unmarshal(reseal(bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("link across groups: %v", err)
	}

	if err := g.LinkField(context.Background(), "x", map[string][]uint32{"a": {1, 2, uint32(len(ds.keys))}}, 0, 2, 1); err == nil {
		t.Fatal("unknown node accepted")
	}
	if err := g.LinkField(context.Background(), "m4", bandGroups(labels, 10), 4, 100, 2); err != nil {
		t.Fatal(err)
	}
	m4 := g.Fields()["m4"]
	for id := range m4.groupOf {
		if len(m4.list(uint32(id))) > 8 {
			t.Fatalf("payload m 4: node %d has %d links", id, len(m4.list(uint32(id))))
		}
	}
	if err := g.LinkField(context.Background(), "m1", bandGroups(labels, 10), 1, 100, 2); err == nil {
		t.Fatal("m 1 accepted")
	}
	if _, ok := g.Fields()["x"]; ok {
		t.Fatal("links set by a failed LinkField")
	}
}
