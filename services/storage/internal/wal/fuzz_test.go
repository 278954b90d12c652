package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// FuzzDecode feeds arbitrary keys and values to Decode. It must never
// panic; every failure must wrap ErrCorrupt; a value whose header is
// changed after encoding must be rejected; and whatever it accepts must
// re-encode (EncodeOp, Value) to a record that decodes to the same entry.
// The seed corpus (valid records, truncated ones, flipped checksums,
// garbage protobuf) runs in `go test`.
func FuzzDecode(f *testing.F) {
	seed := func(term, seq uint64, op *shoalv1.Operation) {
		b, err := EncodeOp(op)
		if err != nil {
			f.Fatal(err)
		}
		v := Value(term, b)
		f.Add(Key(seq), v)
		f.Add(Key(seq), v[:len(v)-1])  // body cut short: checksum fails
		f.Add(Key(seq)[:7], v)         // key of 7 bytes
		f.Add(Key(seq), v[:headerLen]) // header only, body gone
		bad := bytes.Clone(v)
		bad[8] ^= 0xff // checksum flipped
		f.Add(Key(seq), bad)
	}
	seed(1, 1, deleteOp(1, 2, 3))
	seed(7, 1<<40, deleteOp())
	seed(0, 0, &shoalv1.Operation{})
	// Garbage protobuf with a matching checksum: must fail decoding, not
	// the checksum.
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	f.Add(Key(3), Value(2, garbage))
	f.Add([]byte{}, []byte{})

	f.Fuzz(func(t *testing.T, key, val []byte) {
		e, err := Decode(key, val)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode(%x, %x): error %v does not wrap ErrCorrupt", key, val, err)
			}
			return
		}
		if e.Op == nil {
			t.Fatalf("Decode(%x, %x): nil op without error", key, val)
		}
		if e.Seq != binary.BigEndian.Uint64(key) || e.Term != binary.BigEndian.Uint64(val) {
			t.Fatalf("Decode(%x, %x) = seq %d term %d, not the key's and header's", key, val, e.Seq, e.Term)
		}
		// A flipped checksum bit must be caught.
		bad := bytes.Clone(val)
		bad[11] ^= 1
		if _, err := Decode(key, bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode with a flipped checksum bit: %v, want ErrCorrupt", err)
		}
		// Round trip: what was accepted re-encodes to a record decoding
		// to the same operation and term.
		b, err := EncodeOp(e.Op)
		if err != nil {
			t.Fatalf("re-encode %v: %v", e.Op, err)
		}
		again, err := Decode(Key(e.Seq), Value(e.Term, b))
		if err != nil {
			t.Fatalf("decode re-encoded record: %v", err)
		}
		if again.Term != e.Term || again.Seq != e.Seq || !proto.Equal(again.Op, e.Op) {
			t.Fatalf("round trip changed the entry: %v -> %v", e, again)
		}
	})
}
