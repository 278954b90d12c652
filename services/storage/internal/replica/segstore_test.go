package replica

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestSegStore: blobs of one or many chunks round-trip; a cancelled Apply
// changes nothing; chunks of an unpublished blob are removed on open;
// deletes remove every chunk; vector names do not see each other's blobs.
func TestSegStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "seg.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bucketSegments)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	open := func(name string) *segStore {
		t.Helper()
		s, err := openSegStore(db, name)
		if err != nil {
			t.Fatal(err)
		}
		s.chunk = 100
		return s
	}
	blob := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i*31)
		}
		return b
	}
	load := func(s *segStore) map[string][]byte {
		t.Helper()
		out := map[string][]byte{}
		var names []string
		if err := s.Load(func(name string, b []byte) error {
			names = append(names, name)
			out[name] = bytes.Clone(b)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(names) {
			t.Fatalf("Load order %v", names)
		}
		return out
	}
	chunkCount := func(s *segStore) int {
		n := 0
		_ = db.View(func(tx *bolt.Tx) error {
			_, chunks, _ := s.buckets(tx)
			return chunks.ForEach(func(_, _ []byte) error { n++; return nil })
		})
		return n
	}
	same := func(got, want map[string][]byte) bool {
		return maps.EqualFunc(got, want, bytes.Equal)
	}

	s := open("")
	want := map[string][]byte{
		"0000000000000001": blob(100, 1), // exactly one chunk
		"0000000000000002": blob(250, 2), // three chunks
	}
	// f applies puts and deletes and checks what Load returns.
	f := func(puts map[string][]byte, deletes []string, wantChunks int) {
		t.Helper()
		if err := s.Apply(ctx, puts, deletes); err != nil {
			t.Fatal(err)
		}
		for _, d := range deletes {
			delete(want, d)
		}
		maps.Copy(want, puts)
		if got := load(s); !same(got, want) {
			t.Fatalf("after Apply(%v, %v): loaded %d blobs, want %d", slices.Sorted(maps.Keys(puts)), deletes, len(got), len(want))
		}
		if n := chunkCount(s); n != wantChunks {
			t.Fatalf("%d chunks stored, want %d", n, wantChunks)
		}
	}
	f(want, nil, 4)                                                                                // several blobs, one needing chunks: separate transactions
	f(map[string][]byte{"0000000000000003": blob(40, 3), "0000000000000004": blob(50, 4)}, nil, 6) // fit in one chunk: inline
	f(map[string][]byte{"0000000000000005": blob(1000, 5)}, []string{"0000000000000002", "0000000000000003"}, 12)

	// Another vector name is separate.
	other := open("dense")
	if got := load(other); len(got) != 0 {
		t.Fatalf("another vector name sees %d blobs", len(got))
	}

	// A cancelled Apply leaves the store as it was.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Apply(cctx, map[string][]byte{"0000000000000006": blob(500, 6)}, []string{"0000000000000001"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Apply: %v", err)
	}
	if got := load(s); !same(got, want) {
		t.Fatal("cancelled Apply changed the store")
	}

	// Chunks written by an Apply that never published (a crash) are
	// removed when the store is opened again.
	if err := db.Update(func(tx *bolt.Tx) error {
		_, chunks, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return errors.Join(chunks.Put(chunkKey("0000000000000007", 0), blob(100, 7)), chunks.Put(chunkKey("0000000000000007", 1), blob(10, 7)))
	}); err != nil {
		t.Fatal(err)
	}
	s = open("")
	if got, n := load(s), chunkCount(s); !same(got, want) || n != 12 {
		t.Fatalf("after reopen: %d blobs, %d chunks", len(got), n)
	}

	// A missing chunk is an error, not a short blob.
	if err := db.Update(func(tx *bolt.Tx) error {
		_, chunks, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return chunks.Delete(chunkKey("0000000000000005", 4))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(func(string, []byte) error { return nil }); err == nil {
		t.Fatal("Load with a missing chunk succeeded")
	}
	if err := s.clear(); err != nil {
		t.Fatal(err)
	}
	if got, n := load(s), chunkCount(s); len(got) != 0 || n != 0 {
		t.Fatalf("after clear: %d blobs, %d chunks", len(got), n)
	}
}
