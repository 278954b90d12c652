package replica

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/shoaldb/shoal/services/storage/internal/filter"
	bolt "go.etcd.io/bbolt"
)

// Digest summarises a replica's content at a position, to compare
// replicas.
type Digest struct {
	// (LastTerm, LastSeq) is the newest record the content holds.
	LastTerm, LastSeq uint64
	// Points is the number of points.
	Points uint64
	// Sum is the sum (mod 2^64) of a 64-bit hash of every point: its id,
	// version, each vector (by name, names sorted, float bits) and its
	// payload as canonical JSON (keys sorted). It does not depend on the
	// order points were written in, on map encoding order or on the
	// process, so replicas that applied the same operations in the same
	// order have equal digests.
	Sum uint64
}

// Digest computes the replica's digest in one read transaction (content
// and position agree). It reads every point.
func (r *Replica) Digest(ctx context.Context) (Digest, error) {
	leave, err := r.reading()
	if err != nil {
		return Digest{}, err
	}
	defer leave()
	var d Digest
	err = r.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		d.LastTerm, d.LastSeq = u64(meta.Get(keyLastTerm)), u64(meta.Get(keyLastSeq))
		return tx.Bucket(bucketPoints).ForEach(func(k, v []byte) error {
			if d.Points%1024 == 0 {
				if err := r.interrupted(ctx); err != nil {
					return err
				}
			}
			h, err := pointHash(k, v)
			if err != nil {
				return err
			}
			d.Points++
			d.Sum += h
			return nil
		})
	})
	if err != nil {
		return Digest{}, fmt.Errorf("digest replica %s: %w", r.path, err)
	}
	return d, nil
}

// pointHash hashes one stored point (key k, record v). Every part is
// length-prefixed so that no two different points hash the same input.
func pointHash(k, v []byte) (uint64, error) {
	p, err := decodePoint(v)
	if err != nil {
		return 0, fmt.Errorf("point %x: %w", k, err)
	}
	h := sha256.New()
	var n [8]byte
	put := func(x uint64) {
		binary.BigEndian.PutUint64(n[:], x)
		h.Write(n[:])
	}
	bytesPart := func(b []byte) {
		put(uint64(len(b)))
		h.Write(b)
	}
	bytesPart(k)
	put(p.GetVersion())
	names := make([]string, 0, len(p.GetVectors()))
	for name := range p.GetVectors() {
		names = append(names, name)
	}
	sort.Strings(names)
	put(uint64(len(names)))
	for _, name := range names {
		bytesPart([]byte(name))
		data := p.GetVectors()[name].GetData()
		put(uint64(len(data)))
		for _, x := range data {
			binary.BigEndian.PutUint32(n[:4], math.Float32bits(x))
			h.Write(n[:4])
		}
	}
	payload, err := canonicalPayload(p.GetPayload())
	if err != nil {
		return 0, fmt.Errorf("point %x: %w", k, err)
	}
	bytesPart(payload)
	return binary.BigEndian.Uint64(h.Sum(nil)), nil
}

// canonicalPayload re-encodes a stored payload with sorted keys (numbers
// keep their text); no payload and an empty object both give "{}".
func canonicalPayload(raw []byte) ([]byte, error) {
	m, err := filter.DecodePayload(raw)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return out, nil
}
