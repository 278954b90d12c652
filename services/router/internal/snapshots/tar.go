package snapshots

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ErrBadFile is returned (wrapped) for an uploaded or fetched file that
// is not a snapshot this package wrote, or whose content does not match
// its manifest.
var ErrBadFile = errors.New("bad snapshot file")

// ManifestName is the first member of every snapshot tar.
const ManifestName = "manifest.json"

// maxManifestBytes bounds the manifest a reader accepts.
const maxManifestBytes = 16 << 20

// epoch is every member's mtime, so that tars are deterministic.
var epoch = time.Unix(0, 0).UTC()

// ShardMember is the tar member name of shard id's file.
func ShardMember(id uint32) string {
	return "shards/" + strconv.FormatUint(uint64(id), 10) + ".snapshot"
}

// CollectionMember is the tar member name of a collection snapshot inside
// a full snapshot.
func CollectionMember(collection string) string { return collection + ".snapshot" }

func header(name string, size int64) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644,
		ModTime: epoch, AccessTime: epoch, ChangeTime: epoch, Format: tar.FormatPAX,
	}
}

// writeMember writes one member of exactly size bytes read from r and
// checks that they hash to checksum (when not empty).
func writeMember(tw *tar.Writer, name string, size uint64, checksum string, r io.Reader) error {
	if err := tw.WriteHeader(header(name, int64(size))); err != nil {
		return fmt.Errorf("write %s header: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), io.LimitReader(r, int64(size)))
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if uint64(n) != size {
		return fmt.Errorf("write %s: source ended after %d of %d bytes", name, n, size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); checksum != "" && sum != checksum {
		return fmt.Errorf("write %s: source has sha256 %s, manifest says %s", name, sum, checksum)
	}
	return nil
}

func writeJSON(tw *tar.Writer, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := tw.WriteHeader(header(ManifestName, int64(len(raw)))); err != nil {
		return fmt.Errorf("write manifest header: %w", err)
	}
	if _, err := tw.Write(raw); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// WriteCollection writes a collection snapshot's tar to w: the manifest,
// then every shard's file, opened with open and checked against the
// manifest's size and sha256 as it streams.
func WriteCollection(w io.Writer, m Manifest, open func(Shard) (io.ReadCloser, error)) error {
	tw := tar.NewWriter(w)
	if err := writeJSON(tw, m); err != nil {
		return err
	}
	for _, s := range m.Shards {
		rc, err := open(s)
		if err != nil {
			return fmt.Errorf("open shard %d file: %w", s.ID, err)
		}
		err = writeMember(tw, ShardMember(s.ID), s.Size, s.Checksum, rc)
		_ = rc.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finish tar: %w", err)
	}
	return nil
}

// WriteFull writes a full snapshot's tar: the manifest, then every
// collection snapshot's tar, written by each.
func WriteFull(w io.Writer, m FullManifest, each func(e FullEntry, w io.Writer) error) error {
	tw := tar.NewWriter(w)
	if err := writeJSON(tw, m); err != nil {
		return err
	}
	for _, e := range m.Collections {
		name := CollectionMember(e.Collection)
		if err := tw.WriteHeader(header(name, int64(e.Size))); err != nil {
			return fmt.Errorf("write %s header: %w", name, err)
		}
		h := sha256.New()
		cw := &countWriter{w: io.MultiWriter(tw, h)}
		if err := each(e, cw); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if uint64(cw.n) != e.Size || hex.EncodeToString(h.Sum(nil)) != e.Checksum {
			return fmt.Errorf("write %s: collection snapshot does not match its record", name)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finish tar: %w", err)
	}
	return nil
}

// Measure runs write through a sha256 hasher and returns the size and
// checksum of what it wrote.
func Measure(write func(w io.Writer) error) (uint64, string, error) {
	h := sha256.New()
	cw := &countWriter{w: h}
	if err := write(cw); err != nil {
		return 0, "", err
	}
	return uint64(cw.n), hex.EncodeToString(h.Sum(nil)), nil
}

// ReadCollection reads a collection snapshot's tar: the manifest first
// (validated), then each shard's member in manifest order, which must
// have the manifest's size and sha256 (ErrBadFile otherwise). shard, when
// not nil, is handed each member's content as it is read; whatever it
// leaves unread is still hashed. A mismatch is reported after shard
// returned, so a caller acting on the bytes must have the receiver check
// the checksum too, or read the file twice (verify first).
//
// The returned manifest's shards have Offset set: where each file starts
// in r (tar.Reader reads exactly block by block, so the bytes consumed
// when a member's header is read are its data's offset).
func ReadCollection(r io.Reader, shard func(s Shard, data io.Reader) error) (Manifest, error) {
	cr := &countReader{r: r}
	tr := tar.NewReader(cr)
	var m Manifest
	hdr, err := tr.Next()
	if err != nil || hdr.Name != ManifestName || hdr.Size > maxManifestBytes {
		return m, fmt.Errorf("%w: it does not start with %s", ErrBadFile, ManifestName)
	}
	if err := json.NewDecoder(io.LimitReader(tr, maxManifestBytes)).Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %s: %v", ErrBadFile, ManifestName, err)
	}
	if err := m.Validate(); err != nil {
		return m, err
	}
	for i := range m.Shards {
		s := &m.Shards[i]
		hdr, err := tr.Next()
		if err != nil {
			return m, fmt.Errorf("%w: shard %d: %v", ErrBadFile, s.ID, err)
		}
		if hdr.Name != ShardMember(s.ID) || hdr.Size != int64(s.Size) || hdr.Typeflag != tar.TypeReg {
			return m, fmt.Errorf("%w: member %s (%d bytes) where the manifest has %s (%d bytes)",
				ErrBadFile, hdr.Name, hdr.Size, ShardMember(s.ID), s.Size)
		}
		s.Offset = cr.n
		h := sha256.New()
		data := io.TeeReader(tr, h)
		if shard != nil {
			if err := shard(*s, data); err != nil {
				return m, err
			}
		}
		if _, err := io.Copy(io.Discard, data); err != nil {
			return m, fmt.Errorf("%w: shard %d: %v", ErrBadFile, s.ID, err)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != s.Checksum {
			return m, fmt.Errorf("%w: shard %d has sha256 %s, the manifest says %s", ErrBadFile, s.ID, sum, s.Checksum)
		}
	}
	if _, err := tr.Next(); err != io.EOF {
		return m, fmt.Errorf("%w: members after the last shard", ErrBadFile)
	}
	return m, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
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
