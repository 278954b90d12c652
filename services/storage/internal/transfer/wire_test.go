package transfer

import (
	"bytes"
	"errors"
	"testing"
)

func TestChunkEncoding(t *testing.T) {
	f := func(id string, seq, off uint64, payload []byte) {
		t.Helper()
		b := appendChunk(nil, id, seq, off, checksum(payload), payload)
		c, err := decodeChunk(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if c.id != id || c.seq != seq || c.offset != off || c.crc != checksum(payload) || !bytes.Equal(c.payload, payload) {
			t.Fatalf("decoded %+v", c)
		}
	}
	f(NewID(), 0, 0, nil)
	f("x", 1<<40, 1<<50, []byte("hello"))
	f(NewID(), 7, 7*DefaultChunkSize, randomData(DefaultChunkSize, 1))

	for _, bad := range [][]byte{nil, {msgChunk}, {msgChunk, 0}, {msgChunk, 65}, {msgChunk, 3, 'a'}, appendAck(nil, msgAck, "id", 1, 2, 3), appendChunk(nil, "id", 1, 2, 3, nil)[:20]} {
		if _, err := decodeChunk(bad); err == nil {
			t.Fatalf("decoded %x", bad)
		}
	}
}

func TestAckEncoding(t *testing.T) {
	a, err := decodeAck(appendAck(nil, msgResend, "abc", 5, 1000, 8))
	if err != nil || a.typ != msgResend || a.id != "abc" || a.next != 5 || a.written != 1000 || a.window != 8 {
		t.Fatalf("decoded %+v, %v", a, err)
	}
	a, err = decodeAck(appendDone(nil, "abc", errors.New("boom")))
	if err != nil || a.typ != msgDone || a.ok || a.errText != "boom" {
		t.Fatalf("decoded %+v, %v", a, err)
	}
	a, err = decodeAck(appendDone(nil, "abc", nil))
	if err != nil || !a.ok || a.errText != "" {
		t.Fatalf("decoded %+v, %v", a, err)
	}
	if _, err := decodeAck(appendAck(nil, msgAck, "abc", 5, 1000, 8)[:10]); err == nil {
		t.Fatal("decoded a short ack")
	}
}

// FuzzDecodeChunk checks that decoding never panics and that whatever
// decodes re-encodes to the same bytes.
func FuzzDecodeChunk(f *testing.F) {
	f.Add(appendChunk(nil, NewID(), 0, 0, 0, nil))
	f.Add(appendChunk(nil, "t", 3, 1024, checksum([]byte("abc")), []byte("abc")))
	f.Add(appendChunk(nil, NewID(), 1<<63, 1<<62, 0xffffffff, randomData(300, 2)))
	f.Add(appendAck(nil, msgAck, "id", 1, 2, 3))
	f.Add([]byte{})
	f.Add([]byte{msgChunk, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeChunk(b)
		if err != nil {
			return
		}
		if got := appendChunk(nil, c.id, c.seq, c.offset, c.crc, c.payload); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, decoded from %x", got, b)
		}
		if _, err := decodeAck(b); err == nil {
			t.Fatalf("%x decodes both as a chunk and as an ack", b)
		}
	})
}
