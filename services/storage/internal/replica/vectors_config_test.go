package replica

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func namedCfg() *shoalv1.CollectionConfig {
	return &shoalv1.CollectionConfig{Named: true, Vectors: map[string]*shoalv1.VectorParams{
		"a": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT},
	}}
}

func createVectorOp(name string, size uint64, d shoalv1.Distance) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_CreateVectorName{CreateVectorName: &shoalv1.CreateVectorName{
		Name: name, Params: &shoalv1.VectorParams{Size: size, Distance: d},
	}}}
}

func deleteVectorOp(name string) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_DeleteVectorName{DeleteVectorName: &shoalv1.DeleteVectorName{Name: name}}}
}

func searchUsing(r *Replica, using string, q []float32) ([]*shoalv1.ScoredPoint, error) {
	return r.Search(context.Background(), &shoalv1.SearchRequest{Using: using, Vector: &shoalv1.Vector{Data: q}, Limit: 10})
}

func vectorNamesOf(t *testing.T, r *Replica, id uint64) []string {
	t.Helper()
	got, err := r.Get(context.Background(), []*shoalv1.PointID{pointid.Num(id)}, false, &shoalv1.WithVector{All: true})
	if err != nil || len(got) != 1 {
		t.Fatalf("get %d: %v %v", id, got, err)
	}
	var names []string
	for n := range got[0].GetVectors() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func TestCreateVectorName(t *testing.T) {
	r, path := openTest(t, namedCfg(), Options{})
	mustApply(t, r, upsertOp(point(1, "", map[string][]float32{"a": {1, 0}})))

	// Before the creation, the name is unknown.
	if _, err := r.Apply(context.Background(), upsertOp(point(2, "", map[string][]float32{"b": {1, 0, 0}})), true); !IsInvalid(err) {
		t.Fatalf("upsert with an unknown vector: %v", err)
	}
	mustApply(t, r, createVectorOp("b", 3, shoalv1.Distance_DISTANCE_EUCLID))
	if got := r.VectorNames(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("vector names %v", got)
	}
	// The same creation again changes nothing; other parameters are refused.
	mustApply(t, r, createVectorOp("b", 3, shoalv1.Distance_DISTANCE_EUCLID))
	if _, err := r.Apply(context.Background(), createVectorOp("b", 4, shoalv1.Distance_DISTANCE_EUCLID), true); !IsInvalid(err) {
		t.Fatalf("create with other parameters: %v", err)
	}
	mustApply(t, r, upsertOp(point(2, "", map[string][]float32{"a": {0, 1}, "b": {1, 1, 1}})))
	if got := vectorNamesOf(t, r, 1); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("point 1 vectors %v: an existing point does not get the new vector", got)
	}
	hits, err := searchUsing(r, "b", []float32{1, 1, 1})
	if err != nil || len(hits) != 1 || pointid.String(hits[0].GetPoint().GetId()) != "2" {
		t.Fatalf("search using b: %v %v", hits, err)
	}
	// Reopened with the catalog config of before the creation, the file's
	// own vectors win.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path, namedCfg(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got := r2.VectorNames(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after reopen: vector names %v", got)
	}
	if hits, err := searchUsing(r2, "b", []float32{1, 1, 1}); err != nil || len(hits) != 1 {
		t.Fatalf("after reopen: search using b: %v %v", hits, err)
	}
}

func TestDeleteVectorName(t *testing.T) {
	cfg := namedCfg()
	cfg.Vectors["b"] = &shoalv1.VectorParams{Size: 3, Distance: shoalv1.Distance_DISTANCE_COSINE}
	r, path := openTest(t, cfg, Options{})
	for id := uint64(1); id <= 20; id++ {
		mustApply(t, r, upsertOp(point(id, `{"n":1}`, map[string][]float32{"a": {float32(id), 1}, "b": {1, float32(id), 0}})))
	}
	// An operation prepared before the deletion is refused when applied
	// after it.
	stale, err := r.prepare(upsertOp(point(30, "", map[string][]float32{"b": {1, 2, 3}})))
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, r, deleteVectorOp("b"))
	if err := r.fitsVectors(stale); !IsInvalid(err) {
		t.Fatalf("stale upsert after the deletion: %v", err)
	}
	if got := r.VectorNames(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("vector names %v", got)
	}
	for _, id := range []uint64{1, 20} {
		if got := vectorNamesOf(t, r, id); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("point %d vectors %v", id, got)
		}
	}
	if _, err := searchUsing(r, "b", []float32{1, 1, 1}); !IsInvalid(err) {
		t.Fatalf("search using a deleted vector: %v", err)
	}
	if _, err := r.Apply(context.Background(), upsertOp(point(2, "", map[string][]float32{"b": {1, 1, 1}})), true); !IsInvalid(err) {
		t.Fatalf("upsert with a deleted vector: %v", err)
	}
	// Deleting it again changes nothing; the last vector stays.
	mustApply(t, r, deleteVectorOp("b"))
	if _, err := r.Apply(context.Background(), deleteVectorOp("a"), true); !IsInvalid(err) {
		t.Fatalf("deleting the last vector: %v", err)
	}
	if hits, err := searchUsing(r, "a", []float32{1, 0}); err != nil || len(hits) != 10 {
		t.Fatalf("search using a: %d hits, %v", len(hits), err)
	}
	// Created again with another size: no point has it.
	mustApply(t, r, createVectorOp("b", 5, shoalv1.Distance_DISTANCE_DOT))
	if hits, err := searchUsing(r, "b", []float32{1, 1, 1, 1, 1}); err != nil || len(hits) != 0 {
		t.Fatalf("search using the recreated vector: %v %v", hits, err)
	}
	// Reopened with the catalog config that still lists the old b.
	d := mustDigest(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path, cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got := r2.Config().GetVectors()["b"].GetSize(); got != 5 {
		t.Fatalf("after reopen: b has size %d", got)
	}
	if d2 := mustDigest(t, r2); d2 != d {
		t.Fatalf("digest changed by reopening: %+v then %+v", d, d2)
	}
}

// A follower applying the primary's log, and a fresh replica installed
// from it, end with the same vector spaces and points.
func TestVectorNamesReplicate(t *testing.T) {
	ctx := context.Background()
	primary, _ := openTest(t, namedCfg(), Options{})
	follower, _ := openTest(t, namedCfg(), Options{})
	f := func(op *shoalv1.Operation) { mustApply(t, primary, op) }
	f(upsertOp(point(1, "", map[string][]float32{"a": {1, 0}})))
	f(createVectorOp("b", 3, shoalv1.Distance_DISTANCE_DOT))
	f(upsertOp(point(2, "", map[string][]float32{"a": {0, 1}, "b": {1, 2, 3}})))
	f(createVectorOp("c", 2, shoalv1.Distance_DISTANCE_EUCLID))
	f(upsertOp(point(3, "", map[string][]float32{"c": {1, 2}, "b": {3, 2, 1}})))
	f(deleteVectorOp("b"))
	f(upsertOp(point(4, "", map[string][]float32{"a": {1, 1}, "c": {2, 2}})))

	prev, entries, err := primary.ReadLog(ctx, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.ApplyLog(ctx, 1, 0, prev, entries); err != nil {
		t.Fatal(err)
	}
	if pd, fd := mustDigest(t, primary), mustDigest(t, follower); pd != fd {
		t.Fatalf("primary %+v, follower %+v", pd, fd)
	}
	if got := follower.VectorNames(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("follower vector names %v", got)
	}

	// A fresh replica opened with the original catalog config takes the
	// snapshot's spaces before its points.
	fresh, err := Open(filepath.Join(t.TempDir(), "fresh.db"), namedCfg(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	start := func(s Snapshot) error { return fresh.InstallVectors(ctx, s.Vectors) }
	snap, err := primary.ExportWithVectors(ctx, 2, start, func(points []*shoalv1.Point) error {
		return fresh.InstallPoints(ctx, points)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.InstallDone(ctx, snap.LastTerm, snap.LastSeq, snap.FieldIndexes); err != nil {
		t.Fatal(err)
	}
	if pd, fd := mustDigest(t, primary), mustDigest(t, fresh); pd != fd {
		t.Fatalf("primary %+v, installed %+v", pd, fd)
	}
	if hits, err := searchUsing(fresh, "c", []float32{2, 2}); err != nil || len(hits) != 2 {
		t.Fatalf("installed: search using c: %v %v", hits, err)
	}
}

// Searches and writes running while a vector name is created and deleted
// again and again either succeed or are refused as naming a vector that
// does not exist (never another error, never a crash), and the replica
// ends consistent with its log.
func TestVectorNamesConcurrent(t *testing.T) {
	ctx := context.Background()
	// The whole log is replayed below: keep all of it.
	r, _ := openTest(t, namedCfg(), Options{WALRetention: 1 << 30})
	done := make(chan struct{})
	errs := make(chan error, 3)
	worker := func(fn func(i int) error) {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if err := fn(i); err != nil && !IsInvalid(err) {
					errs <- err
					return
				}
			}
		}()
	}
	worker(func(i int) error {
		_, err := r.Apply(ctx, upsertOp(point(uint64(i%50), "", map[string][]float32{"a": {1, float32(i)}, "b": {float32(i), 1, 0}})), true)
		return err
	})
	worker(func(int) error {
		_, err := searchUsing(r, "b", []float32{1, 1, 1})
		return err
	})
	worker(func(int) error {
		_, err := searchUsing(r, "a", []float32{1, 1})
		return err
	})
	for i := 0; i < 30; i++ {
		mustApply(t, r, createVectorOp("b", 3, shoalv1.Distance_DISTANCE_DOT))
		mustApply(t, r, deleteVectorOp("b"))
	}
	close(done)
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The final state has no b anywhere, and a follower replaying the
	// whole log ends identical.
	follower, _ := openTest(t, namedCfg(), Options{})
	prev, entries, err := r.ReadLog(ctx, 0, 100000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.ApplyLog(ctx, 1, 0, prev, entries); err != nil {
		t.Fatal(err)
	}
	if a, b := mustDigest(t, r), mustDigest(t, follower); a != b {
		t.Fatalf("primary %+v, follower %+v", a, b)
	}
	if got := r.VectorNames(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("vector names %v", got)
	}
}
