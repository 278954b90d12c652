package replica

import (
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"google.golang.org/protobuf/encoding/protowire"
)

// Stored points are protobuf Point messages. Filters only need a point's
// payload and its vector names, so these helpers read those fields
// straight from the encoded record without decoding the vectors.

// scanRecord calls fn for each top-level field of an encoded Point until
// fn returns false. It stops silently at malformed data.
func scanRecord(rec []byte, fn func(num protowire.Number, typ protowire.Type, val []byte) bool) {
	for len(rec) > 0 {
		num, typ, n := protowire.ConsumeTag(rec)
		if n < 0 {
			return
		}
		rec = rec[n:]
		m := protowire.ConsumeFieldValue(num, typ, rec)
		if m < 0 {
			return
		}
		val := rec[:m]
		if typ == protowire.BytesType {
			b, k := protowire.ConsumeBytes(rec)
			if k < 0 {
				return
			}
			val = b
		}
		rec = rec[m:]
		if !fn(num, typ, val) {
			return
		}
	}
}

// recordPayload returns the payload bytes of an encoded Point (aliasing
// rec), nil when it has none.
func recordPayload(rec []byte) []byte {
	var out []byte
	scanRecord(rec, func(num protowire.Number, typ protowire.Type, val []byte) bool {
		if num == 3 && typ == protowire.BytesType {
			out = val
			return false
		}
		return true
	})
	return out
}

// recordHasVector reports whether an encoded Point has a vector of name.
func recordHasVector(rec []byte, name string) bool {
	found := false
	scanRecord(rec, func(num protowire.Number, typ protowire.Type, entry []byte) bool {
		if num != 2 || typ != protowire.BytesType {
			return true
		}
		// A map entry: key = field 1 (string), value = field 2.
		key := ""
		scanRecord(entry, func(n protowire.Number, t protowire.Type, v []byte) bool {
			if n == 1 && t == protowire.BytesType {
				key = string(v)
				return false
			}
			return true
		})
		found = key == name
		return !found
	})
	return found
}

// recordPoint is a stored point as a filter sees it. The record is fetched
// lazily (at most once) through get, which returns nil for a point that
// does not exist.
type recordPoint struct {
	key     string
	get     func(key string) []byte
	rec     []byte
	fetched bool
}

func (p *recordPoint) record() []byte {
	if !p.fetched {
		p.rec, p.fetched = p.get(p.key), true
	}
	return p.rec
}

func (p *recordPoint) Key() string { return p.key }

// Payload decodes the payload; a payload that does not decode (never
// stored by this code) counts as empty.
func (p *recordPoint) Payload() map[string]any {
	m, err := filter.DecodePayload(recordPayload(p.record()))
	if err != nil {
		return nil
	}
	return m
}

func (p *recordPoint) HasVector(name string) bool { return recordHasVector(p.record(), name) }
