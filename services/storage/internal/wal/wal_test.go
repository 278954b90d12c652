package wal

import (
	"errors"
	"path/filepath"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

func deleteOp(ids ...uint64) *shoalv1.Operation {
	d := &shoalv1.DeletePoints{}
	for _, id := range ids {
		d.Ids = append(d.Ids, &shoalv1.PointID{Kind: &shoalv1.PointID_Num{Num: id}})
	}
	return &shoalv1.Operation{Kind: &shoalv1.Operation_Delete{Delete: d}}
}

func openDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "wal.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(Bucket)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

func readAll(t *testing.T, db *bolt.DB, from uint64) ([]Entry, error) {
	t.Helper()
	var out []Entry
	err := db.View(func(tx *bolt.Tx) error {
		return Read(tx.Bucket(Bucket), from, func(e Entry) error {
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

func TestAppendReadTruncate(t *testing.T) {
	db := openDB(t)
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		for seq := uint64(1); seq <= 10; seq++ {
			enc, err := EncodeOp(deleteOp(seq))
			if err != nil {
				return err
			}
			if err := Append(b, seq/4+1, seq, enc); err != nil {
				return err
			}
		}
		return Truncate(b, 4)
	}); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, db, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 || got[0].Seq != 4 || got[6].Seq != 10 {
		t.Fatalf("after truncate: %d entries, first %d", len(got), got[0].Seq)
	}
	for _, e := range got {
		if e.Term != e.Seq/4+1 || !proto.Equal(e.Op, deleteOp(e.Seq)) {
			t.Fatalf("entry %d: term %d op %v", e.Seq, e.Term, e.Op)
		}
	}
	tail, err := readAll(t, db, 9)
	if err != nil || len(tail) != 2 {
		t.Fatalf("read from 9: %d entries, %v", len(tail), err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		first, last := Bounds(tx.Bucket(Bucket))
		if first != 4 || last != 10 {
			t.Fatalf("bounds %d..%d", first, last)
		}
		e, ok, err := Last(tx.Bucket(Bucket))
		if !ok || err != nil || e.Seq != 10 {
			t.Fatalf("last = %v %v %v", e.Seq, ok, err)
		}
		return nil
	})
}

func TestCorruptionDetected(t *testing.T) {
	enc, err := EncodeOp(deleteOp(1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	good := Value(7, enc)
	if e, err := Decode(Key(5), good); err != nil || e.Term != 7 || e.Seq != 5 {
		t.Fatalf("decode good record: %+v %v", e, err)
	}
	f := func(name string, key, val []byte) {
		t.Helper()
		if _, err := Decode(key, val); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
	for i := 8; i < len(good); i++ {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x10
		f("flipped byte", Key(5), bad)
	}
	f("short record", Key(5), good[:6])
	f("truncated op", Key(5), good[:len(good)-1])
	f("bad key", []byte{1, 2}, good)
}
