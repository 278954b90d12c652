package snapshots

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bytesSource writes fixed bytes at a fixed position, or fails after
// writing half of them.
type bytesSource struct {
	data []byte
	pos  Position
	fail bool
}

func (b bytesSource) write(_ context.Context, w io.Writer) (Position, error) {
	if b.fail {
		_, _ = w.Write(b.data[:len(b.data)/2])
		return Position{}, errors.New("disk on fire")
	}
	_, err := w.Write(b.data)
	return b.pos, err
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestCreateListOpenDelete(t *testing.T) {
	s := New(t.TempDir())
	s.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	data := bytes.Repeat([]byte("shoal"), 10000)
	src := bytesSource{data: data, pos: Position{Term: 3, Seq: 42}}.write
	ctx := context.Background()

	info, err := s.Create(ctx, "c", 1, "b.snapshot", src)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Name: "b.snapshot", Size: uint64(len(data)), Checksum: sum(data), Created: s.now(), Term: 3, Seq: 42}
	if info != want {
		t.Fatalf("Create = %+v, want %+v", info, want)
	}
	if _, err := s.Create(ctx, "c", 1, "a.snapshot", src); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "c", 1, "a.snapshot", src); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create of a name: %v, want ErrExists", err)
	}
	list, err := s.List("c", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "a.snapshot" || list[1] != want {
		t.Fatalf("List = %+v", list)
	}
	if other, err := s.List("c", 2); err != nil || len(other) != 0 {
		t.Fatalf("List of another shard = %v, %v", other, err)
	}

	f, got, err := s.Open("c", 1, "b.snapshot")
	if err != nil {
		t.Fatal(err)
	}
	read, err := io.ReadAll(f)
	f.Close()
	if err != nil || !bytes.Equal(read, data) || got != want {
		t.Fatalf("Open: %v, %d bytes, %+v", err, len(read), got)
	}

	if err := s.Delete("c", 1, "b.snapshot"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("c", 1, "b.snapshot"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Open("c", 1, "b.snapshot"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of a deleted snapshot: %v", err)
	}
	if err := s.Delete("c", 1, "a.snapshot"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "c")); !os.IsNotExist(err) {
		t.Fatalf("collection directory left after the last delete: %v", err)
	}
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	s := New(t.TempDir())
	_, err := s.Create(context.Background(), "c", 0, "x.snapshot", bytesSource{data: []byte("abcdef"), fail: true}.write)
	if err == nil {
		t.Fatal("Create with a failing source succeeded")
	}
	entries, _ := os.ReadDir(s.dir("c", 0))
	if len(entries) != 0 {
		t.Fatalf("files left behind: %v", entries)
	}
	if list, err := s.List("c", 0); err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v", list, err)
	}
}

func TestSweepDropsFilesWithoutSidecar(t *testing.T) {
	s := New(t.TempDir())
	dir := s.dir("c", 0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"orphan.snapshot", ".tmp-123"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(context.Background(), "c", 0, "ok.snapshot", bytesSource{data: []byte("data")}.write); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "ok.snapshot,ok.snapshot.json" {
		t.Fatalf("directory holds %v", names)
	}
}

func TestNames(t *testing.T) {
	f := func(name string, ok bool) {
		t.Helper()
		if err := CheckName(name); (err == nil) != ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
	f("c-shard-0-1-2026-01-02-03-04-05.000000.snapshot", true)
	f("plain", true)
	f("", false)
	f(".hidden", false)
	f("..", false)
	f("a/b", false)
	f(`a\b`, false)
	f("x.snapshot.json", false)
	f(strings.Repeat("x", 256), false)

	s := New(t.TempDir())
	if _, err := s.Create(context.Background(), "../c", 0, "x", bytesSource{}.write); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Create in collection ../c: %v", err)
	}
	if _, err := s.Stat("c", 0, "../../x"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Stat of ../../x: %v", err)
	}
	if got := DefaultName("c", 2, 7, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)); got != "c-shard-2-7-2026-01-02-03-04-05.000006.snapshot" {
		t.Errorf("DefaultName = %s", got)
	}
}

func TestReceive(t *testing.T) {
	s := New(t.TempDir())
	data := []byte("snapshot bytes")
	f := func(want string, ok bool) {
		t.Helper()
		path, info, err := s.Receive(bytes.NewReader(data), want)
		if !ok {
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("Receive with checksum %q: %v, want ErrChecksum", want, err)
			}
			entries, _ := os.ReadDir(filepath.Join(s.Root(), ".incoming"))
			if len(entries) != 0 {
				t.Fatalf("rejected upload kept: %v", entries)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, data) || info.Checksum != sum(data) || info.Size != uint64(len(data)) {
			t.Fatalf("Receive kept %q, %+v", got, info)
		}
	}
	f("", true)
	path, _, err := s.Receive(bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveIncoming(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("RemoveIncoming left %s: %v", path, err)
	}
	f(sum(data), true)
	f(strings.ToUpper(sum(data)), true)
	f(sum([]byte("other")), false)
}
