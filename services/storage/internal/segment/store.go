package segment

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Store keeps the blobs of a Set's sealed segments (a replica keeps them
// in a bbolt bucket of its file, one Store per vector name).
type Store interface {
	// Load calls fn for every stored blob in name order. blob is only
	// valid during the call.
	Load(fn func(name string, blob []byte) error) error
	// Apply stores puts and removes deletes in one atomic step: after a
	// crash either all of it or none of it is visible to Load. It may
	// give up when ctx ends (the Set cancels it on Close), leaving the
	// store as it was.
	Apply(ctx context.Context, puts map[string][]byte, deletes []string) error
}

// MemStore is an in-memory Store for tests and tools. Its methods are safe
// for concurrent use.
type MemStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
	// FailApply, when set, makes Apply fail with this error.
	FailApply error
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{blobs: map[string][]byte{}} }

// Load implements Store.
func (m *MemStore) Load(fn func(name string, blob []byte) error) error {
	m.mu.Lock()
	names := slices.Sorted(maps.Keys(m.blobs))
	blobs := maps.Clone(m.blobs)
	m.mu.Unlock()
	for _, n := range names {
		if err := fn(n, blobs[n]); err != nil {
			return err
		}
	}
	return nil
}

// Apply implements Store.
func (m *MemStore) Apply(ctx context.Context, puts map[string][]byte, deletes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if m.FailApply != nil {
		return fmt.Errorf("memstore: %w", m.FailApply)
	}
	for _, n := range deletes {
		delete(m.blobs, n)
	}
	for n, b := range puts {
		m.blobs[n] = slices.Clone(b)
	}
	return nil
}

// Names lists the stored blobs.
func (m *MemStore) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.blobs))
}
