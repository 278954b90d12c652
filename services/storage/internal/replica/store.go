package replica

import (
	"encoding/binary"
	"fmt"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Layout of a replica file:
//
//	wal    seq -> term | crc32c | op          (see package wal)
//	points pointid.Key -> protobuf Point (version = seq of its last write)
//	meta   "last_seq", "last_term" -> uint64 big endian
//	       "config" -> protobuf CollectionConfig
//	field_indexes  payload key (Path.String()) -> schema JSON
//	segments       sealed HNSW segments per vector name (see segstore.go)
//
// Payload indexes themselves are not stored: Open rebuilds them from the
// points while it loads the vectors. Sealed segments are stored and
// loaded; only the points they do not hold are indexed again.
var (
	bucketPoints       = []byte("points")
	bucketMeta         = []byte("meta")
	bucketFieldIndexes = []byte("field_indexes")

	keyLastSeq  = []byte("last_seq")
	keyLastTerm = []byte("last_term")
	keyConfig   = []byte("config")
)

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func putU64(b *bolt.Bucket, key []byte, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return b.Put(key, buf[:])
}

// initFile creates the buckets, reconciles the stored collection config
// with cfg (nil: use the stored one) and returns the config in force and
// the last logged (term, seq).
func initFile(db *bolt.DB, cfg *shoalv1.CollectionConfig) (*shoalv1.CollectionConfig, uint64, uint64, error) {
	var term, seq uint64
	err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{wal.Bucket, bucketPoints, bucketMeta, bucketFieldIndexes, bucketSegments} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if raw := meta.Get(keyConfig); raw != nil {
			stored := &shoalv1.CollectionConfig{}
			if err := proto.Unmarshal(raw, stored); err != nil {
				return fmt.Errorf("decode stored config: %w", err)
			}
			if cfg == nil {
				cfg = stored
			} else {
				cfg = withStoredVectors(stored, cfg)
			}
		}
		if cfg == nil {
			return fmt.Errorf("no collection config given or stored")
		}
		raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(cfg)
		if err != nil {
			return fmt.Errorf("encode config: %w", err)
		}
		if err := meta.Put(keyConfig, raw); err != nil {
			return fmt.Errorf("store config: %w", err)
		}
		term, seq = u64(meta.Get(keyLastTerm)), u64(meta.Get(keyLastSeq))
		// The newest WAL record must be intact and agree with the meta
		// bucket: both are written in the same transactions.
		last, ok, err := wal.Last(tx.Bucket(wal.Bucket))
		if err != nil {
			return err
		}
		if ok && (last.Seq != seq || last.Term != term) {
			return fmt.Errorf("wal ends at (term %d, seq %d) but meta says (term %d, seq %d)", last.Term, last.Seq, term, seq)
		}
		return nil
	})
	return cfg, term, seq, err
}

// sameVectors reports how two configs' vector spaces differ (nil: they
// do not).
func sameVectors(stored, cfg *shoalv1.CollectionConfig) error {
	if len(stored.GetVectors()) != len(cfg.GetVectors()) {
		return fmt.Errorf("stored config has %d vector names, given %d", len(stored.GetVectors()), len(cfg.GetVectors()))
	}
	for name, s := range stored.GetVectors() {
		c, ok := cfg.GetVectors()[name]
		if !ok || c.GetSize() != s.GetSize() || c.GetDistance() != s.GetDistance() {
			return fmt.Errorf("vector %q: stored config %v differs from given %v", name, s, c)
		}
	}
	return nil
}

// decodePoint decodes a stored point; the result does not alias v.
func decodePoint(v []byte) (*shoalv1.Point, error) {
	p := &shoalv1.Point{}
	if err := proto.Unmarshal(v, p); err != nil {
		return nil, fmt.Errorf("decode stored point: %w", err)
	}
	return p, nil
}

// project trims a stored point to what a read asked for.
func project(p *shoalv1.Point, withPayload bool, wv *shoalv1.WithVector) *shoalv1.Point {
	if !withPayload {
		p.Payload = nil
	}
	switch {
	case wv.GetAll():
	case len(wv.GetNames()) == 0:
		p.Vectors = nil
	default:
		keep := make(map[string]*shoalv1.Vector, len(wv.GetNames()))
		for _, n := range wv.GetNames() {
			if v, ok := p.Vectors[n]; ok {
				keep[n] = v
			}
		}
		p.Vectors = keep
	}
	return p
}
