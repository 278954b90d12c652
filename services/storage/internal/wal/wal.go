// Package wal stores a shard replica's write-ahead log in a bbolt bucket.
//
// Each record is keyed by its sequence number (8 bytes, big endian) so that
// records iterate in order. The value is
//
//	term (8 bytes, big endian) | CRC-32C of the encoded op (4 bytes, big endian) | protobuf shoalv1.Operation
//
// Reading verifies the checksum and fails with ErrCorrupt on a mismatch.
// The log keeps a bounded tail: Append drops the oldest records beyond the
// retention in the same transaction, so the tail stays available for
// wal_delta recovery of lagging replicas.
package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Bucket is the name of the WAL bucket.
var Bucket = []byte("wal")

// ErrCorrupt is returned (wrapped) when a record fails its checksum or
// cannot be decoded.
var ErrCorrupt = errors.New("wal record corrupt")

const headerLen = 8 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry is one decoded record.
type Entry struct {
	Term uint64
	Seq  uint64
	Op   *shoalv1.Operation
}

// EncodeOp encodes an operation deterministically, so that the same op
// gives the same bytes (and checksum) on every replica.
func EncodeOp(op *shoalv1.Operation) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(op)
	if err != nil {
		return nil, fmt.Errorf("encode operation: %w", err)
	}
	return b, nil
}

// Key returns the bucket key of seq.
func Key(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// Value builds a record value from a term and an encoded op.
func Value(term uint64, encodedOp []byte) []byte {
	v := make([]byte, headerLen+len(encodedOp))
	binary.BigEndian.PutUint64(v, term)
	binary.BigEndian.PutUint32(v[8:], crc32.Checksum(encodedOp, castagnoli))
	copy(v[headerLen:], encodedOp)
	return v
}

// Decode checks and decodes the record stored under key. The returned op
// does not alias the value (bbolt values are only valid inside their
// transaction).
func Decode(key, val []byte) (Entry, error) {
	if len(key) != 8 {
		return Entry{}, fmt.Errorf("%w: key %x is not a sequence number", ErrCorrupt, key)
	}
	seq := binary.BigEndian.Uint64(key)
	if len(val) < headerLen {
		return Entry{}, fmt.Errorf("%w: seq %d: record of %d bytes is shorter than its header", ErrCorrupt, seq, len(val))
	}
	body := val[headerLen:]
	want := binary.BigEndian.Uint32(val[8:])
	if got := crc32.Checksum(body, castagnoli); got != want {
		return Entry{}, fmt.Errorf("%w: seq %d: checksum %08x, want %08x", ErrCorrupt, seq, got, want)
	}
	op := &shoalv1.Operation{}
	if err := proto.Unmarshal(body, op); err != nil {
		return Entry{}, fmt.Errorf("%w: seq %d: %v", ErrCorrupt, seq, err)
	}
	return Entry{Term: binary.BigEndian.Uint64(val), Seq: seq, Op: op}, nil
}

// Append writes one record. Sequence numbers must increase; Append does
// not check it (the replica assigns them).
func Append(b *bolt.Bucket, term, seq uint64, encodedOp []byte) error {
	if err := b.Put(Key(seq), Value(term, encodedOp)); err != nil {
		return fmt.Errorf("append wal seq %d: %w", seq, err)
	}
	return nil
}

// Truncate deletes every record with a sequence number below keepFrom.
func Truncate(b *bolt.Bucket, keepFrom uint64) error {
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < keepFrom; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("truncate wal before %d: %w", keepFrom, err)
		}
	}
	return nil
}

// Read calls fn for every record with seq >= from, in order, stopping at
// the first error (a corrupt record gives ErrCorrupt).
func Read(b *bolt.Bucket, from uint64, fn func(Entry) error) error {
	c := b.Cursor()
	for k, v := c.Seek(Key(from)); k != nil; k, v = c.Next() {
		e, err := Decode(k, v)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Bounds returns the first and last sequence numbers held (0, 0 when the
// log is empty).
func Bounds(b *bolt.Bucket) (first, last uint64) {
	c := b.Cursor()
	if k, _ := c.First(); k != nil {
		first = binary.BigEndian.Uint64(k)
	}
	if k, _ := c.Last(); k != nil {
		last = binary.BigEndian.Uint64(k)
	}
	return first, last
}

// Last decodes and checks the newest record; ok is false for an empty log.
func Last(b *bolt.Bucket) (e Entry, ok bool, err error) {
	k, v := b.Cursor().Last()
	if k == nil {
		return Entry{}, false, nil
	}
	e, err = Decode(k, v)
	return e, err == nil, err
}
