package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/snapshots"
)

// SpooledSnapshot is a snapshot file received in full (an upload or a
// fetched location) in the router's temporary directory. Remove deletes
// it.
type SpooledSnapshot struct {
	Path     string
	Size     uint64
	Checksum string
}

// Remove deletes the file.
func (f SpooledSnapshot) Remove() { _ = os.Remove(f.Path) }

// SpoolSnapshot copies r to a temporary file, hashing it on the way.
func (s *Service) SpoolSnapshot(r io.Reader) (SpooledSnapshot, error) {
	f, err := os.CreateTemp(s.opt.Snapshots.TempDir, "shoal-recover-*.snapshot")
	if err != nil {
		return SpooledSnapshot{}, apierr.Wrap(err, "Service internal error: receive snapshot")
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		var typed *apierr.Error
		if errors.As(err, &typed) {
			return SpooledSnapshot{}, typed
		}
		return SpooledSnapshot{}, apierr.New(apierr.BadRequest, "Bad request: receiving the snapshot failed: %v", err)
	}
	return SpooledSnapshot{Path: f.Name(), Size: uint64(n), Checksum: hex.EncodeToString(h.Sum(nil))}, nil
}

// FetchSnapshot receives the snapshot a recovery location names:
//
//   - http(s)://...: fetched with GET (api_key, when given, sent as the
//     api-key header); a non-2xx answer is a 400.
//   - file:///path: a file inside SnapshotOptions.LocalDir (the router's
//     storage.snapshots_path) only; anything else is a 403-free 400, so a
//     request can never read arbitrary files of the router's host.
func (s *Service) FetchSnapshot(ctx context.Context, location, apiKey string) (SpooledSnapshot, error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme == "" {
		return SpooledSnapshot{}, apierr.New(apierr.BadRequest, "Bad request: snapshot location %q is not a URL", location)
	}
	switch u.Scheme {
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
		if err != nil {
			return SpooledSnapshot{}, apierr.New(apierr.BadRequest, "Bad request: snapshot location %q: %v", location, err)
		}
		if apiKey != "" {
			req.Header.Set("api-key", apiKey)
		}
		cl := s.opt.Snapshots.HTTPClient
		if cl == nil {
			cl = http.DefaultClient
		}
		resp, err := cl.Do(req)
		if err != nil {
			return SpooledSnapshot{}, apierr.New(apierr.BadRequest, "Bad request: fetching snapshot %s failed: %v", location, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return SpooledSnapshot{}, apierr.New(apierr.BadRequest, "Bad request: fetching snapshot %s failed: HTTP %d", location, resp.StatusCode)
		}
		return s.SpoolSnapshot(resp.Body)
	case "file":
		path, err := s.localSnapshotPath(u)
		if err != nil {
			return SpooledSnapshot{}, err
		}
		f, err := os.Open(path)
		if err != nil {
			return SpooledSnapshot{}, apierr.New(apierr.NotFound, "Not found: Snapshot file %s does not exist", u.Path)
		}
		defer f.Close()
		return s.SpoolSnapshot(f)
	}
	return SpooledSnapshot{}, apierr.New(apierr.BadRequest, "Bad request: snapshot location scheme %q is not supported (http, https or file)", u.Scheme)
}

// localSnapshotPath resolves a file:// URL inside LocalDir.
func (s *Service) localSnapshotPath(u *url.URL) (string, error) {
	root := s.opt.Snapshots.LocalDir
	if root == "" {
		return "", apierr.New(apierr.BadRequest, "Bad request: file:// snapshot locations are disabled (storage.snapshots_path is not set)")
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", apierr.New(apierr.BadRequest, "Bad request: file:// location with host %q", u.Host)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", apierr.Wrap(err, "Service internal error: snapshots path")
	}
	p := filepath.Clean(u.Path)
	if !filepath.IsAbs(p) {
		p = filepath.Join(absRoot, p)
	}
	if rel, err := filepath.Rel(absRoot, p); err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", apierr.New(apierr.BadRequest, "Bad request: file:// snapshot locations must name a file inside %s", absRoot)
	}
	// Symbolic links may not lead outside either.
	if real, err := filepath.EvalSymlinks(p); err == nil {
		realRoot, _ := filepath.EvalSymlinks(absRoot)
		if rel, err := filepath.Rel(realRoot, real); err != nil || strings.HasPrefix(rel, "..") {
			return "", apierr.New(apierr.BadRequest, "Bad request: file:// snapshot locations must name a file inside %s", absRoot)
		}
	}
	return p, nil
}

// fileSHA256 hashes a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func equalFoldHex(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// readSnapshotFile reads a collection snapshot tar from path (see
// snapshots.ReadCollection); a bad file is a 400.
func readSnapshotFile(path string, shard func(snapshots.Shard, io.Reader) error) (snapshots.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return snapshots.Manifest{}, apierr.Wrap(err, "Service internal error: open snapshot")
	}
	defer f.Close()
	m, err := snapshots.ReadCollection(f, shard)
	return m, badSnapshot(err)
}
