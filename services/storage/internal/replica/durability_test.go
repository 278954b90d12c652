package replica

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
	bolt "go.etcd.io/bbolt"
)

func TestPersistenceAcrossReopen(t *testing.T) {
	ctx := context.Background()
	cfg := single(3, shoalv1.Distance_DISTANCE_EUCLID)
	r, path := openTest(t, cfg, Options{})
	r.SetTerm(3)
	mustApply(t, r, upsertOp(point(1, `{"x":"y"}`, map[string][]float32{"": {1, 2, 3}}), point(2, ``, map[string][]float32{"": {0, 0, 0}})))
	mustApply(t, r, deleteOp(pointid.Num(2)))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Apply(ctx, deleteOp(pointid.Num(1)), true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Apply after Close: %v", err)
	}
	if _, err := r.Count(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Count after Close: %v", err)
	}

	// nil config: the stored one is used.
	r2, err := Open(path, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if term, seq := r2.LastApplied(); term != 3 || seq != 2 {
		t.Fatalf("reopened at (%d, %d)", term, seq)
	}
	if n := mustCount(t, r2); n != 1 {
		t.Fatalf("count after reopen = %d", n)
	}
	got, err := r2.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{1, 2, 4}}, Limit: 5, WithPayload: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Score != 1 || !sameJSON(got[0].Point.Payload, []byte(`{"x":"y"}`)) {
		t.Fatalf("search after reopen: %v", got)
	}
	if seq := mustApply(t, r2, deleteOp(pointid.Num(1))); seq != 3 {
		t.Fatalf("seq after reopen = %d", seq)
	}
	// The file's vector spaces follow its own log (vector names created or
	// deleted by it): a config with other vectors does not replace them.
	r2.Close()
	r3, err := Open(path, single(4, shoalv1.Distance_DISTANCE_EUCLID), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	if p := r3.Config().GetVectors()[""]; p.GetSize() != 3 || p.GetDistance() != shoalv1.Distance_DISTANCE_EUCLID {
		t.Fatalf("reopened with the stored vectors replaced: %v", p)
	}
}

func TestConcurrentAppliesShareCommits(t *testing.T) {
	ctx := context.Background()
	r, path := openTest(t, single(4, shoalv1.Distance_DISTANCE_DOT), Options{})
	const writers, each = 300, 1
	seqs := make(chan uint64, writers*each)
	// Hold bbolt's writer lock so that the committer blocks in its first
	// transaction while every other op queues up behind it.
	blocker, err := r.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := uint64(w*each + i)
				seq, err := r.Apply(ctx, upsertOp(point(id, `{}`, map[string][]float32{"": {float32(id), 1, 2, 3}})), w%2 == 0)
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- seq
			}
		}()
	}
	for r.Stats().Pending < writers*each {
		runtime.Gosched()
	}
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(seqs)
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] || s == 0 || s > writers*each {
			t.Fatalf("bad or repeated seq %d", s)
		}
		seen[s] = true
	}
	st := r.Stats()
	// The first transaction took what was queued when it started; every
	// other op was queued behind it and fits in one more batch.
	if st.Ops != writers*each || st.Commits > 2 {
		t.Fatalf("stats %+v: want %d ops in at most 2 transactions", st, writers*each)
	}
	t.Logf("%d ops in %d transactions", st.Ops, st.Commits)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if n := mustCount(t, r2); n != writers*each {
		t.Fatalf("durable points = %d", n)
	}
	if _, seq := r2.LastApplied(); seq != writers*each {
		t.Fatalf("last seq = %d", seq)
	}
}

func TestCancelledApplyIsAllOrNothing(t *testing.T) {
	r, _ := openTest(t, single(1, shoalv1.Distance_DISTANCE_DOT), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for id := range uint64(50) {
		_, err := r.Apply(ctx, upsertOp(point(id, ``, map[string][]float32{"": {1}})), true)
		got, _ := r.Get(context.Background(), []*shoalv1.PointID{pointid.Num(id)}, false, nil)
		if (err == nil) != (len(got) == 1) {
			t.Fatalf("id %d: err %v but present=%v", id, err, len(got) == 1)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("id %d: %v", id, err)
		}
	}
}

func TestWALRetentionAndCorruption(t *testing.T) {
	ctx := context.Background()
	r, path := openTest(t, single(1, shoalv1.Distance_DISTANCE_DOT), Options{WALRetention: 5})
	for id := range uint64(12) {
		mustApply(t, r, upsertOp(point(id, ``, map[string][]float32{"": {float32(id)}})))
	}
	var got []uint64
	if err := r.ReadWAL(ctx, 0, func(e wal.Entry) error {
		got = append(got, e.Seq)
		if e.Op.GetUpsert().GetPoints()[0].GetId().GetNum() != e.Seq-1 {
			t.Fatalf("seq %d holds the wrong op", e.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0] != 8 || got[4] != 12 {
		t.Fatalf("retained seqs %v, want 8..12", got)
	}
	r.Close()

	corrupt := func(seq uint64) {
		t.Helper()
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(wal.Bucket)
			v := append([]byte(nil), b.Get(wal.Key(seq))...)
			v[len(v)-2] ^= 0x01
			return b.Put(wal.Key(seq), v)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A corrupt record in the middle is found when the log is read.
	corrupt(9)
	r2, err := Open(path, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	err = r2.ReadWAL(ctx, 0, func(wal.Entry) error { return nil })
	if !errors.Is(err, wal.ErrCorrupt) {
		t.Fatalf("read corrupt wal: %v", err)
	}
	if err := r2.ReadWAL(ctx, 10, func(wal.Entry) error { return nil }); err != nil {
		t.Fatalf("read past the corrupt record: %v", err)
	}
	r2.Close()
	// A corrupt newest record stops the replica from opening.
	corrupt(12)
	if _, err := Open(path, nil, zerolog.Nop()); !errors.Is(err, wal.ErrCorrupt) {
		t.Fatalf("open with corrupt tail: %v", err)
	}
}

func TestDrop(t *testing.T) {
	r, path := openTest(t, single(1, shoalv1.Distance_DISTANCE_DOT), Options{})
	mustApply(t, r, upsertOp(point(1, ``, map[string][]float32{"": {1}})))
	if err := r.Drop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file still there: %v", err)
	}
}
