package replica

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// TestApplyAtRefusesAfterATermChange: a primary's write admitted under a
// term is never logged once the replica follows a newer one.
func TestApplyAtRefusesAfterATermChange(t *testing.T) {
	cfg := &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}}
	r, err := Open(filepath.Join(t.TempDir(), "r.db"), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	op := func(id uint64) *shoalv1.Operation {
		return &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{Points: []*shoalv1.Point{
			{Id: pointid.Num(id), Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{1, 2}}}},
		}}}}
	}
	ctx := context.Background()
	r.SetTerm(3)
	if seq, err := r.ApplyAt(ctx, 3, op(1), true); err != nil || seq != 1 {
		t.Fatalf("write at the current term: %d %v", seq, err)
	}
	r.SetTerm(4)
	if _, err := r.ApplyAt(ctx, 3, op(2), true); !errors.Is(err, ErrTermChanged) {
		t.Fatalf("write admitted at an older term: %v", err)
	}
	if term, seq := r.LastApplied(); term != 3 || seq != 1 {
		t.Fatalf("position after the refused write: (%d, %d)", term, seq)
	}
	if n, _ := r.Count(ctx); n != 1 {
		t.Fatalf("%d points", n)
	}
}
