package replica

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// TestSnapshotRoundTrip: a snapshot opens as a replica with the same
// content and position, and passes CheckSnapshot; a truncated file does
// not.
func TestSnapshotRoundTrip(t *testing.T) {
	r, _ := openTest(t, single(2, shoalv1.Distance_DISTANCE_DOT), Options{})
	ctx := context.Background()
	for i := uint64(1); i <= 50; i++ {
		mustApply(t, r, upsertOp(point(i, `{"a":1}`, map[string][]float32{"": {float32(i), 1}})))
	}
	var buf bytes.Buffer
	pos, err := r.WriteSnapshot(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if term, seq := r.LastApplied(); pos != (Position{term, seq}) || seq != 50 {
		t.Fatalf("snapshot position %+v, replica at (%d, %d)", pos, term, seq)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := CheckSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Position != pos || info.Points != 50 || info.Fits(r.Config()) != nil {
		t.Fatalf("snapshot info %+v", info)
	}
	copyR, err := Open(path, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer copyR.Close()
	want, _ := r.Digest(ctx)
	got, _ := copyR.Digest(ctx)
	if got != want {
		t.Fatalf("restored digest %+v, source %+v", got, want)
	}

	bad := filepath.Join(t.TempDir(), "bad.db")
	if err := os.WriteFile(bad, buf.Bytes()[:buf.Len()/3], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckSnapshot(bad); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("truncated snapshot: %v", err)
	}
}

// TestRebase: after a rebase the log starts afresh beyond the old end;
// records before it are gone, and a rebase backwards is refused.
func TestRebase(t *testing.T) {
	r, _ := openTest(t, single(2, shoalv1.Distance_DISTANCE_DOT), Options{})
	ctx := context.Background()
	for i := uint64(1); i <= 5; i++ {
		mustApply(t, r, upsertOp(point(i, "", map[string][]float32{"": {float32(i), 1}})))
	}
	if err := r.Rebase(ctx, Position{Term: 3, Seq: 5}); err == nil {
		t.Fatal("rebase to the current end accepted")
	}
	if err := r.Rebase(ctx, Position{Term: 3, Seq: 9}); err != nil {
		t.Fatal(err)
	}
	if term, seq := r.LastApplied(); term != 3 || seq != 9 || r.Term() < 3 {
		t.Fatalf("after rebase: (%d, %d), term %d", term, seq, r.Term())
	}
	if _, _, err := r.ReadLog(ctx, 4, 10, 0); !errors.Is(err, ErrCompacted) {
		t.Fatalf("read before the rebase point: %v", err)
	}
	if term, ok, err := r.TermAt(ctx, 9); err != nil || !ok || term != 3 {
		t.Fatalf("term at the rebase point: %d %v %v", term, ok, err)
	}
	if n, _ := r.Count(ctx); n != 5 {
		t.Fatalf("points after rebase: %d", n)
	}
}
