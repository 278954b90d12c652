package snapshots

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fixture returns a manifest of two shards and their files.
func fixture(t *testing.T) (Manifest, map[uint32][]byte) {
	t.Helper()
	files := map[uint32][]byte{0: bytes.Repeat([]byte("zero"), 3000), 2: []byte("shard two")}
	m := Manifest{Format: FormatVersion, Name: "c-1-x.snapshot", Collection: "c", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := m.SetConfig(&shoalv1.CollectionConfig{ShardNumber: 2, Vectors: map[string]*shoalv1.VectorParams{"": {Size: 4}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint32{0, 2} {
		m.Shards = append(m.Shards, Shard{ID: id, Node: 7, File: fmt.Sprint(id), Size: uint64(len(files[id])), Checksum: sum(files[id])})
	}
	return m, files
}

func opener(files map[uint32][]byte) func(Shard) (io.ReadCloser, error) {
	return func(s Shard) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(files[s.ID])), nil }
}

func TestCollectionTarRoundTrip(t *testing.T) {
	m, files := fixture(t)
	var a, b bytes.Buffer
	if err := WriteCollection(&a, m, opener(files)); err != nil {
		t.Fatal(err)
	}
	if err := WriteCollection(&b, m, opener(files)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two writes of one snapshot differ")
	}
	size, checksum, err := Measure(func(w io.Writer) error { return WriteCollection(w, m, opener(files)) })
	if err != nil || size != uint64(a.Len()) || checksum != sum(a.Bytes()) {
		t.Fatalf("Measure = %d %s %v; the tar has %d bytes, sha256 %s", size, checksum, err, a.Len(), sum(a.Bytes()))
	}

	got := map[uint32][]byte{}
	read, err := ReadCollection(bytes.NewReader(a.Bytes()), func(s Shard, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[s.ID] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if read.Name != m.Name || len(read.Shards) != 2 || !bytes.Equal(got[0], files[0]) || !bytes.Equal(got[2], files[2]) {
		t.Fatalf("read back %+v, %d/%d bytes", read, len(got[0]), len(got[2]))
	}
	for _, sh := range read.Shards {
		if !bytes.Equal(a.Bytes()[sh.Offset:sh.Offset+int64(sh.Size)], files[sh.ID]) {
			t.Fatalf("shard %d is not at offset %d", sh.ID, sh.Offset)
		}
	}
	cfg, err := read.CollectionConfig()
	if err != nil || cfg.GetShardNumber() != 2 || cfg.GetVectors()[""].GetSize() != 4 {
		t.Fatalf("config %v, %v", cfg, err)
	}
	// A shard handler that reads nothing still gets the file verified.
	if _, err := ReadCollection(bytes.NewReader(a.Bytes()), func(Shard, io.Reader) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestCollectionTarRejects(t *testing.T) {
	m, files := fixture(t)
	var good bytes.Buffer
	if err := WriteCollection(&good, m, opener(files)); err != nil {
		t.Fatal(err)
	}
	f := func(what string, file []byte) {
		t.Helper()
		if _, err := ReadCollection(bytes.NewReader(file), nil); !errors.Is(err, ErrBadFile) {
			t.Errorf("%s: %v, want ErrBadFile", what, err)
		}
	}
	f("empty", nil)
	f("garbage", []byte(strings.Repeat("x", 2048)))
	f("truncated", good.Bytes()[:good.Len()/2])
	flipped := append([]byte(nil), good.Bytes()...)
	i := bytes.Index(flipped, files[0])
	flipped[i+100] ^= 1
	f("corrupt shard", flipped)

	bad := m
	bad.Format = 99
	var other bytes.Buffer
	if err := WriteCollection(&other, bad, opener(files)); err != nil {
		t.Fatal(err)
	}
	f("unknown format", other.Bytes())

	// A source that does not match the manifest fails the write.
	wrong := map[uint32][]byte{0: bytes.Repeat([]byte("ZERO"), 3000), 2: files[2]}
	if err := WriteCollection(io.Discard, m, opener(wrong)); err == nil {
		t.Error("writing a shard whose bytes do not match the manifest succeeded")
	}
	short := map[uint32][]byte{0: files[0][:10], 2: files[2]}
	if err := WriteCollection(io.Discard, m, opener(short)); err == nil {
		t.Error("writing a short shard succeeded")
	}
}

func TestFullTar(t *testing.T) {
	m, files := fixture(t)
	var coll bytes.Buffer
	if err := WriteCollection(&coll, m, opener(files)); err != nil {
		t.Fatal(err)
	}
	fm := FullManifest{Format: FormatVersion, Name: "full.snapshot", Collections: []FullEntry{{Collection: "c", Snapshot: m.Name, Size: uint64(coll.Len()), Checksum: sum(coll.Bytes())}}}
	write := func(e FullEntry, w io.Writer) error { return WriteCollection(w, m, opener(files)) }
	var a, b bytes.Buffer
	if err := WriteFull(&a, fm, write); err != nil {
		t.Fatal(err)
	}
	if err := WriteFull(&b, fm, write); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("second full write: %v, equal %v", err, bytes.Equal(a.Bytes(), b.Bytes()))
	}
	if !bytes.Contains(a.Bytes(), coll.Bytes()) {
		t.Fatal("the full snapshot does not hold the collection snapshot")
	}
	fm.Collections[0].Checksum = sum([]byte("other"))
	if err := WriteFull(io.Discard, fm, write); err == nil {
		t.Fatal("a collection snapshot that does not match its record was written")
	}
}
