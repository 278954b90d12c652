// Package snapshots keeps a storage node's shard snapshot files: copies
// of one shard replica's bbolt file (points, retained WAL, meta position,
// sealed HNSW segments), so that a replica restored from one needs no
// re-indexing.
//
// Layout: <root>/<collection>/<shard>/<name> is the file, <name>.json
// beside it its sidecar (size, sha256, creation time, the replica
// position the file holds). A snapshot exists once its sidecar does: the
// file is written to a temporary name, synced and renamed first, the
// sidecar last, so a crash leaves at most an unlisted file (swept by the
// next Create or Delete of that shard) and never a listed, partial one.
// Temporary files start with '.', which no snapshot name may.
package snapshots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors returned (wrapped) by the store.
var (
	// ErrNotFound: no such snapshot.
	ErrNotFound = errors.New("snapshot not found")
	// ErrExists: a snapshot of that name already exists.
	ErrExists = errors.New("snapshot already exists")
	// ErrInvalidName: the name cannot be a snapshot file name.
	ErrInvalidName = errors.New("invalid snapshot name")
	// ErrChecksum: received bytes do not have the expected sha256.
	ErrChecksum = errors.New("snapshot checksum mismatch")
)

// sidecarSuffix ends a sidecar's file name.
const sidecarSuffix = ".json"

// Info describes one snapshot.
type Info struct {
	Name string `json:"name"`
	Size uint64 `json:"size"`
	// Checksum is the file's sha256 in hex.
	Checksum string    `json:"checksum"`
	Created  time.Time `json:"created"`
	// Term and Seq are the replica position the file holds.
	Term uint64 `json:"term"`
	Seq  uint64 `json:"seq"`
}

// Position is the replica position a snapshot holds: the (term, seq)
// of its newest log record.
type Position struct {
	Term, Seq uint64
}

// WriteFunc writes a consistent copy of a replica to w and returns the
// position the copy holds (a replica's WriteSnapshot, adapted).
type WriteFunc func(ctx context.Context, w io.Writer) (Position, error)

// Store is the snapshot directory of one node. It is safe for concurrent
// use; operations on one shard are serialized.
type Store struct {
	root string
	now  func() time.Time

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns the store rooted at root (created on first write).
func New(root string) *Store {
	return &Store{root: root, now: time.Now, locks: map[string]*sync.Mutex{}}
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// CheckName validates a snapshot name: one path element of 1-255 bytes
// that does not start with '.' (temporary files do) nor end with the
// sidecar suffix.
func CheckName(name string) error {
	if name == "" || len(name) > 255 || strings.HasPrefix(name, ".") ||
		strings.ContainsAny(name, "/\\\x00") || strings.HasSuffix(name, sidecarSuffix) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return nil
}

// checkCollection validates a collection name as one path element.
func checkCollection(c string) error {
	if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\\\x00") {
		return fmt.Errorf("%w: collection %q", ErrInvalidName, c)
	}
	return nil
}

// DefaultName is the name Create gives a snapshot of collection's shard
// taken on node at t: <collection>-shard-<id>-<node>-<UTC time to the
// microsecond>.snapshot.
func DefaultName(collection string, shard uint32, node uint64, t time.Time) string {
	return fmt.Sprintf("%s-shard-%d-%d-%s.snapshot", collection, shard, node, t.UTC().Format("2006-01-02-15-04-05.000000"))
}

func (s *Store) dir(collection string, shard uint32) string {
	return filepath.Join(s.root, collection, strconv.FormatUint(uint64(shard), 10))
}

// lock serializes the operations on one shard's directory.
func (s *Store) lock(collection string, shard uint32) func() {
	key := collection + "/" + strconv.FormatUint(uint64(shard), 10)
	s.mu.Lock()
	l, ok := s.locks[key]
	if !ok {
		l = &sync.Mutex{}
		s.locks[key] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Create writes a snapshot named name with src. The copy goes through a
// sha256 hasher into a temporary file that is synced and renamed into
// place; then the sidecar is written. An existing name is ErrExists; on
// any error nothing is left behind.
func (s *Store) Create(ctx context.Context, collection string, shard uint32, name string, src WriteFunc) (Info, error) {
	if err := checkCollection(collection); err != nil {
		return Info{}, err
	}
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	defer s.lock(collection, shard)()
	dir := s.dir(collection, shard)
	if _, err := os.Stat(filepath.Join(dir, name+sidecarSuffix)); err == nil {
		return Info{}, fmt.Errorf("%w: %s", ErrExists, name)
	}
	s.sweep(dir)
	var pos Position
	info, err := s.write(dir, name, func(w io.Writer) error {
		var err error
		pos, err = src(ctx, w)
		return err
	})
	if err != nil {
		return Info{}, fmt.Errorf("create snapshot %s of %s/%d: %w", name, collection, shard, err)
	}
	info.Term, info.Seq = pos.Term, pos.Seq
	if err := s.writeSidecar(dir, info); err != nil {
		_ = os.Remove(filepath.Join(dir, name))
		return Info{}, fmt.Errorf("create snapshot %s of %s/%d: %w", name, collection, shard, err)
	}
	return info, nil
}

// write runs fill on a temporary file in dir through a sha256 hasher,
// syncs it and renames it to name. The returned Info has no position.
func (s *Store) write(dir, name string, fill func(w io.Writer) error) (Info, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Info{}, fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return Info{}, fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err := fill(cw); err != nil {
		return Info{}, err
	}
	if err := f.Sync(); err != nil {
		return Info{}, fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return Info{}, fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return Info{}, fmt.Errorf("rename %s: %w", tmp, err)
	}
	ok = true
	return Info{Name: name, Size: uint64(cw.n), Checksum: hex.EncodeToString(h.Sum(nil)), Created: s.now().UTC()}, nil
}

// writeSidecar writes info next to its file (temporary file, sync,
// rename, directory sync).
func (s *Store) writeSidecar(dir string, info Info) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode sidecar: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("create sidecar: %w", err)
	}
	tmp := f.Name()
	if _, err := f.Write(raw); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, info.Name+sidecarSuffix))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write sidecar of %s: %w", info.Name, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// sweep removes temporary files and snapshot files without a sidecar
// (left by a crash) from dir. The caller holds the shard's lock.
func (s *Store) sweep(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, ".tmp-"):
			_ = os.Remove(filepath.Join(dir, n))
		case !strings.HasSuffix(n, sidecarSuffix) && !have[n+sidecarSuffix]:
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
}

// List returns the shard's snapshots sorted by name; none is an empty
// list, not an error.
func (s *Store) List(collection string, shard uint32) ([]Info, error) {
	if err := checkCollection(collection); err != nil {
		return nil, err
	}
	dir := s.dir(collection, shard)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []Info{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %s/%d: %w", collection, shard, err)
	}
	out := []Info{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, sidecarSuffix) {
			continue
		}
		info, err := readSidecar(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("list snapshots of %s/%d: %w", collection, shard, err)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func readSidecar(path string) (Info, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Info{}, fmt.Errorf("read %s: %w", path, err)
	}
	var info Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return Info{}, fmt.Errorf("decode %s: %w", path, err)
	}
	return info, nil
}

// Stat describes one snapshot; ErrNotFound if it does not exist.
func (s *Store) Stat(collection string, shard uint32, name string) (Info, error) {
	if err := checkCollection(collection); err != nil {
		return Info{}, err
	}
	if err := CheckName(name); err != nil {
		return Info{}, err
	}
	info, err := readSidecar(filepath.Join(s.dir(collection, shard), name+sidecarSuffix))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("%w: %s of %s/%d", ErrNotFound, name, collection, shard)
	}
	return info, err
}

// Open opens a snapshot file for reading. The caller closes it; a
// Delete meanwhile does not disturb the open file.
func (s *Store) Open(collection string, shard uint32, name string) (*os.File, Info, error) {
	info, err := s.Stat(collection, shard, name)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(filepath.Join(s.dir(collection, shard), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, fmt.Errorf("%w: %s of %s/%d", ErrNotFound, name, collection, shard)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("open snapshot %s: %w", name, err)
	}
	return f, info, nil
}

// Delete removes a snapshot: the sidecar first (it stops being listed),
// then the file. ErrNotFound if it does not exist.
func (s *Store) Delete(collection string, shard uint32, name string) error {
	if _, err := s.Stat(collection, shard, name); err != nil {
		return err
	}
	defer s.lock(collection, shard)()
	dir := s.dir(collection, shard)
	if err := os.Remove(filepath.Join(dir, name+sidecarSuffix)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s of %s/%d", ErrNotFound, name, collection, shard)
		}
		return fmt.Errorf("delete snapshot %s: %w", name, err)
	}
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete snapshot %s: %w", name, err)
	}
	s.sweep(dir)
	// Drop the shard and collection directories once empty.
	for d := dir; d != s.root && strings.HasPrefix(d, s.root); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// incomingDir holds received files while they are checked and restored.
const incomingDir = ".incoming"

// RemoveIncoming deletes received files a crash left behind; call it at
// startup, before any Receive.
func (s *Store) RemoveIncoming() error {
	if err := os.RemoveAll(filepath.Join(s.root, incomingDir)); err != nil {
		return fmt.Errorf("remove leftover received snapshots: %w", err)
	}
	return nil
}

// Receive copies r into a temporary file under <root>/.incoming through
// a sha256 hasher, for a recovery. When want is not empty the received
// bytes must hash to it (ErrChecksum otherwise, and nothing is kept).
// The caller removes the returned path when done.
func (s *Store) Receive(r io.Reader, want string) (string, Info, error) {
	dir := filepath.Join(s.root, incomingDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", Info{}, fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "recover-*.snapshot")
	if err != nil {
		return "", Info{}, fmt.Errorf("create temporary file: %w", err)
	}
	path := f.Name()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return "", Info{}, fmt.Errorf("receive snapshot: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if want != "" && !strings.EqualFold(want, sum) {
		_ = os.Remove(path)
		return "", Info{}, fmt.Errorf("%w: expected %s, got %s", ErrChecksum, want, sum)
	}
	return path, Info{Name: filepath.Base(path), Size: uint64(n), Checksum: sum, Created: s.now().UTC()}, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
