package replica

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// install copies src into the fresh replica dst by Export, InstallPoints
// and InstallDone, and returns the snapshot.
func install(t *testing.T, src, dst *Replica, batch int) Snapshot {
	t.Helper()
	ctx := context.Background()
	batches := 0
	snap, err := src.Export(ctx, batch, func(points []*shoalv1.Point) error {
		if len(points) > batch {
			t.Fatalf("batch of %d points, limit %d", len(points), batch)
		}
		batches++
		return dst.InstallPoints(ctx, points)
	})
	if err != nil {
		t.Fatal(err)
	}
	if batches == 0 {
		t.Fatal("Export called fn for no batch")
	}
	if err := dst.InstallDone(ctx, snap.LastTerm, snap.LastSeq, snap.FieldIndexes); err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestInstallThenFollow(t *testing.T) {
	ctx := context.Background()
	leader, _ := openTest(t, replCfg(), Options{WALRetention: 40})
	rng := rand.New(rand.NewPCG(7, 8))
	leader.SetTerm(4)
	workload(t, leader, rng, 200)
	mustApply(t, leader, createIndexOp("tag", `"keyword"`))
	mustApply(t, leader, createIndexOp("n", `"integer"`))

	// The leader's WAL no longer reaches back to the start.
	if _, _, err := leader.ReadLog(ctx, 0, 10, 0); err == nil {
		t.Fatal("the test needs a compacted log")
	}
	follower, fpath := openTest(t, replCfg(), Options{WALRetention: 40})
	snap := install(t, leader, follower, 7)
	if len(snap.FieldIndexes) != 2 {
		t.Fatalf("snapshot field indexes %v", snap.FieldIndexes)
	}
	if ld, fd := mustDigest(t, leader), mustDigest(t, follower); ld != fd {
		t.Fatalf("after install: leader %+v, follower %+v", ld, fd)
	}
	if term, seq := follower.LastApplied(); term != snap.LastTerm || seq != snap.LastSeq || follower.Term() != 4 {
		t.Fatalf("follower at (%d, %d) term %d, snapshot %+v", term, seq, follower.Term(), snap)
	}
	if n := mustCount(t, follower); n != mustCount(t, leader) {
		t.Fatalf("follower count %d", n)
	}
	// A second install into it is refused.
	if err := follower.InstallPoints(ctx, nil); err == nil {
		t.Fatal("InstallPoints into an installed replica")
	}
	if err := follower.InstallDone(ctx, 1, 1, nil); err == nil {
		t.Fatal("InstallDone into an installed replica")
	}
	// The installed replica's log starts after the snapshot: its term
	// there is known, the records before are not.
	if term, ok, err := follower.TermAt(ctx, snap.LastSeq); err != nil || !ok || term != snap.LastTerm {
		t.Fatalf("TermAt(snapshot) = %d %v %v", term, ok, err)
	}
	if _, ok, _ := follower.TermAt(ctx, snap.LastSeq-1); ok {
		t.Fatal("TermAt before the snapshot is known")
	}

	// The tail follows, from the snapshot on.
	leader.SetTerm(5)
	workload(t, leader, rng, 25)
	ship(t, leader, follower, 6)
	ld, fd := mustDigest(t, leader), mustDigest(t, follower)
	if ld != fd {
		t.Fatalf("after the tail: leader %+v, follower %+v", ld, fd)
	}
	// The follower serves its log from the snapshot on, like a leader.
	prev, entries, err := follower.ReadLog(ctx, snap.LastSeq, 100, 0)
	if err != nil || prev != snap.LastTerm || len(entries) != int(ld.LastSeq-snap.LastSeq) {
		t.Fatalf("follower ReadLog(snapshot): %d, %d entries, %v", prev, len(entries), err)
	}
	q := []float32{0.5, 0.5, -0.1}
	for _, flt := range []string{"", `{"must":[{"key":"tag","match":{"value":"t2"}}]}`, `{"must":[{"key":"n","range":{"gte":20,"lt":70}}]}`} {
		if l, f := searchIDs(t, leader, q, flt), searchIDs(t, follower, q, flt); !slices.Equal(l, f) || len(l) == 0 {
			t.Fatalf("search %q: leader %v, follower %v", flt, l, f)
		}
	}

	// Everything survives a reopen, and following goes on.
	if err := follower.Close(); err != nil {
		t.Fatal(err)
	}
	follower, err = OpenWithOptions(fpath, replCfg(), zerolog.Nop(), Options{WALRetention: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follower.Close() })
	if got := mustDigest(t, follower); got != ld {
		t.Fatalf("after reopen %+v, want %+v", got, ld)
	}
	for _, flt := range []string{"", `{"must":[{"key":"tag","match":{"value":"t2"}}]}`} {
		if l, f := searchIDs(t, leader, q, flt), searchIDs(t, follower, q, flt); !slices.Equal(l, f) {
			t.Fatalf("after reopen, search %q: leader %v, follower %v", flt, l, f)
		}
	}
	// The payload indexes were stored with the install.
	indexes := func(r *Replica) []string {
		t.Helper()
		s, err := r.Export(ctx, 1000, func([]*shoalv1.Point) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, fi := range s.FieldIndexes {
			out = append(out, fi.GetField()+"="+string(fi.GetSchemaJson()))
		}
		return out
	}
	if l, f := indexes(leader), indexes(follower); !slices.Equal(l, f) || len(f) == 0 {
		t.Fatalf("field indexes: leader %v, follower %v", l, f)
	}
	follower.SetTerm(5)
	// Past the retention: the follower truncates its log too.
	for range 3 {
		workload(t, leader, rng, 20)
		ship(t, leader, follower, 9)
	}
	if _, _, err := follower.ReadLog(ctx, snap.LastSeq, 10, 0); err == nil {
		t.Fatal("the follower's log still reaches the snapshot")
	}
	if ld, fd := mustDigest(t, leader), mustDigest(t, follower); ld != fd {
		t.Fatalf("after reopen and tail: leader %+v, follower %+v", ld, fd)
	}
}

// TestInstallReopenBeforeTail: an installed replica reopened before any
// replicated entry keeps its position (no WAL record yet) and follows.
func TestInstallReopenBeforeTail(t *testing.T) {
	leader, _ := openTest(t, replCfg(), Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	workload(t, leader, rng, 40)
	follower, fpath := openTest(t, replCfg(), Options{})
	snap := install(t, leader, follower, 1000)
	if err := follower.Close(); err != nil {
		t.Fatal(err)
	}
	follower, err := OpenWithOptions(fpath, nil, zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follower.Close() })
	if term, seq := follower.LastApplied(); term != snap.LastTerm || seq != snap.LastSeq {
		t.Fatalf("reopened at (%d, %d), snapshot %+v", term, seq, snap)
	}
	workload(t, leader, rng, 10)
	ship(t, leader, follower, 4)
	if ld, fd := mustDigest(t, leader), mustDigest(t, follower); ld != fd {
		t.Fatalf("leader %+v, follower %+v", ld, fd)
	}
}

func TestInstallRefusesUsedReplica(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, replCfg(), Options{})
	mustApply(t, r, upsertOp(point(1, "", map[string][]float32{"a": {1, 2, 3}})))
	if err := r.InstallPoints(ctx, []*shoalv1.Point{point(2, "", map[string][]float32{"a": {1, 2, 3}})}); err == nil {
		t.Fatal("InstallPoints into a replica with logged writes")
	}
	if err := r.InstallDone(ctx, 1, 5, nil); err == nil {
		t.Fatal("InstallDone into a replica with logged writes")
	}
	fresh, _ := openTest(t, replCfg(), Options{})
	if err := fresh.InstallPoints(ctx, []*shoalv1.Point{point(2, "", map[string][]float32{"a": {1, 2}})}); err == nil {
		t.Fatal("installed a vector of the wrong size")
	}
	if err := fresh.InstallPoints(ctx, []*shoalv1.Point{point(2, "", map[string][]float32{"zz": {1, 2, 3}})}); err == nil {
		t.Fatal("installed an unknown vector name")
	}
	if n := mustCount(t, fresh); n != 0 {
		t.Fatalf("refused installs left %d points", n)
	}
}

// TestInterruptedInstall: a replica whose install began and did not end
// refuses replicated entries, also after a reopen.
func TestInterruptedInstall(t *testing.T) {
	ctx := context.Background()
	leader, _ := openTest(t, replCfg(), Options{})
	workload(t, leader, rand.New(rand.NewPCG(5, 5)), 30)
	follower, fpath := openTest(t, replCfg(), Options{})
	if follower.Installing() {
		t.Fatal("a fresh replica is installing")
	}
	var first []*shoalv1.Point
	if _, err := leader.Export(ctx, 3, func(p []*shoalv1.Point) error {
		if first == nil {
			first = p
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := follower.InstallPoints(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := follower.Close(); err != nil {
		t.Fatal(err)
	}
	follower, err := OpenWithOptions(fpath, replCfg(), zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follower.Close() })
	if !follower.Installing() {
		t.Fatal("the install mark was lost on reopen")
	}
	_, entries := logOf(t, leader, 0)
	if _, err := follower.ApplyLog(ctx, 1, 0, 0, entries); err == nil {
		t.Fatal("ApplyLog accepted by a replica in the middle of an install")
	}
	if err := follower.InstallDone(ctx, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	if follower.Installing() {
		t.Fatal("still installing after InstallDone")
	}
}
