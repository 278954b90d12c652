package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/shoaldb/shoal/services/storage/internal/segment"
	bolt "go.etcd.io/bbolt"
)

// Sealed segments live in the replica file, one sub-bucket per vector name
// under the segments bucket:
//
//	segments / "v" + vector name /
//	    blobs   segment name -> u64 length | u32 chunks   (the manifest)
//	    chunks  segment name | u32 chunk index -> at most segmentChunk bytes
//
// A blob is written in chunks, one bbolt transaction each, and published by
// a last transaction that writes its manifest and removes replaced blobs,
// so a large blob never holds bbolt's single writer (and with it the
// replica's commits) for longer than one chunk takes, and a crash leaves
// either the old segments or the new ones. Chunks without a manifest (an
// interrupted write) are removed when the store is opened.
var (
	bucketSegments = []byte("segments")
	bucketBlobs    = []byte("blobs")
	bucketChunks   = []byte("chunks")
)

// segmentChunk is the largest value one chunk transaction writes. On the
// development VM a 1 MiB chunk transaction holds bbolt's writer for at most
// ~13 ms, where writing a 10 000 × 128 segment (6.6 MB) in one transaction
// held it ~37 ms and a 64 MiB one ~120 ms (BenchmarkSegmentStoreCommitLatency;
// README.md, "Vector index").
const segmentChunk = 1 << 20

// segStore is the segment.Store of one vector name in a replica file.
type segStore struct {
	db    *bolt.DB
	name  []byte // sub-bucket of bucketSegments
	chunk int    // chunk size (segmentChunk; benchmarks vary it)
	// onTx, when set, is told how long each write transaction of Apply
	// took (that is how long it kept the replica's commits waiting).
	onTx func(time.Duration)
}

// update runs fn in a write transaction and reports its duration to onTx.
func (s *segStore) update(fn func(tx *bolt.Tx) error) error {
	t0 := time.Now()
	err := s.db.Update(fn)
	if s.onTx != nil {
		s.onTx(time.Since(t0))
	}
	return err
}

var _ segment.Store = (*segStore)(nil)

// openSegStore creates the vector name's buckets and removes chunks no
// manifest names.
func openSegStore(db *bolt.DB, vectorName string) (*segStore, error) {
	s := &segStore{db: db, name: append([]byte("v"), vectorName...), chunk: segmentChunk}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.Bucket(bucketSegments).CreateBucketIfNotExists(s.name)
		if err != nil {
			return err
		}
		blobs, err := root.CreateBucketIfNotExists(bucketBlobs)
		if err != nil {
			return err
		}
		chunks, err := root.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		var orphans [][]byte
		c := chunks.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) < 4 || blobs.Get(k[:len(k)-4]) == nil {
				orphans = append(orphans, slices.Clone(k))
			}
		}
		for _, k := range orphans {
			if err := chunks.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("segment store %q: %w", vectorName, err)
	}
	return s, nil
}

// buckets returns the vector name's blobs and chunks buckets in tx.
func (s *segStore) buckets(tx *bolt.Tx) (blobs, chunks *bolt.Bucket, err error) {
	root := tx.Bucket(bucketSegments).Bucket(s.name)
	if root == nil {
		return nil, nil, fmt.Errorf("segment store %s: bucket missing", s.name)
	}
	return root.Bucket(bucketBlobs), root.Bucket(bucketChunks), nil
}

func chunkKey(name string, i uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(name), i)
}

// Load implements segment.Store. A blob of one chunk is passed straight
// from the file (valid during fn, as the interface says); a larger one is
// assembled into a fresh buffer.
func (s *segStore) Load(fn func(name string, blob []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		blobs, chunks, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return blobs.ForEach(func(k, v []byte) error {
			name := string(k)
			if len(v) != 12 {
				return fmt.Errorf("segment %s: bad manifest", name)
			}
			size, n := binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:])
			if n == 0 || n > 1<<22 {
				return fmt.Errorf("segment %s: bad manifest (%d chunks)", name, n)
			}
			if n == 1 {
				blob := chunks.Get(chunkKey(name, 0))
				if uint64(len(blob)) != size {
					return fmt.Errorf("segment %s: chunk 0 holds %d bytes, manifest says %d", name, len(blob), size)
				}
				return fn(name, blob)
			}
			parts := make([][]byte, n)
			total := uint64(0)
			for i := range n {
				if parts[i] = chunks.Get(chunkKey(name, i)); parts[i] == nil {
					return fmt.Errorf("segment %s: chunk %d missing", name, i)
				}
				total += uint64(len(parts[i]))
			}
			if total != size {
				return fmt.Errorf("segment %s: chunks hold %d bytes, manifest says %d", name, total, size)
			}
			blob := make([]byte, 0, size)
			for _, p := range parts {
				blob = append(blob, p...)
			}
			return fn(name, blob)
		})
	})
}

// Apply implements segment.Store. When the puts together fit in one chunk,
// one transaction does everything; otherwise the chunks of every put are
// written in transactions of their own (ctx is checked between them), then
// one transaction writes the manifests and removes the deleted blobs.
func (s *segStore) Apply(ctx context.Context, puts map[string][]byte, deletes []string) error {
	names := make([]string, 0, len(puts))
	total := 0
	for name, blob := range puts {
		names = append(names, name)
		total += len(blob)
	}
	sort.Strings(names)
	inline := total <= s.chunk
	for _, name := range names {
		if inline {
			break
		}
		blob := puts[name]
		for i := 0; i == 0 || i*s.chunk < len(blob); i++ {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("segment store %s: %w", s.name, err)
			}
			part := blob[i*s.chunk : min(len(blob), (i+1)*s.chunk)]
			err := s.update(func(tx *bolt.Tx) error {
				_, chunks, err := s.buckets(tx)
				if err != nil {
					return err
				}
				return chunks.Put(chunkKey(name, uint32(i)), part)
			})
			if err != nil {
				return fmt.Errorf("segment store %s: write %s chunk %d: %w", s.name, name, i, err)
			}
		}
	}
	err := s.update(func(tx *bolt.Tx) error {
		blobs, chunks, err := s.buckets(tx)
		if err != nil {
			return err
		}
		for _, name := range deletes {
			if err := blobs.Delete([]byte(name)); err != nil {
				return err
			}
			if err := deletePrefix(chunks, []byte(name)); err != nil {
				return err
			}
		}
		for _, name := range names {
			if inline {
				if err := chunks.Put(chunkKey(name, 0), puts[name]); err != nil {
					return err
				}
			}
			n := max(1, (len(puts[name])+s.chunk-1)/s.chunk)
			v := binary.BigEndian.AppendUint64(nil, uint64(len(puts[name])))
			v = binary.BigEndian.AppendUint32(v, uint32(n))
			if err := blobs.Put([]byte(name), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("segment store %s: publish: %w", s.name, err)
	}
	return nil
}

// deletePrefix removes the chunks of one blob (keys: name | u32).
func deletePrefix(b *bolt.Bucket, name []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(name); k != nil && bytes.HasPrefix(k, name); k, _ = c.Next() {
		if len(k) == len(name)+4 {
			keys = append(keys, slices.Clone(k))
		}
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// clear removes every stored segment of the vector name (used when the
// stored segments cannot be loaded: they are rebuilt from the points).
func (s *segStore) clear() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketSegments)
		if err := root.DeleteBucket(s.name); err != nil {
			return err
		}
		sub, err := root.CreateBucket(s.name)
		if err != nil {
			return err
		}
		if _, err := sub.CreateBucket(bucketBlobs); err != nil {
			return err
		}
		_, err = sub.CreateBucket(bucketChunks)
		return err
	})
}
