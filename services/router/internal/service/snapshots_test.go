package service_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// TestFetchSnapshotLocations checks which recovery locations are read:
// http(s) URLs, and file:// only inside the configured directory.
func TestFetchSnapshotLocations(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.snapshot"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "link.snapshot")); err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/s" || r.Header.Get("api-key") != "k" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("from the web"))
	}))
	defer web.Close()
	svc := service.New(service.Options{Log: zerolog.Nop(), Snapshots: service.SnapshotOptions{LocalDir: root, TempDir: t.TempDir()}})

	f := func(location, apiKey string, kind apierr.Kind, want string) {
		t.Helper()
		file, err := svc.FetchSnapshot(context.Background(), location, apiKey)
		if err != nil {
			if apierr.KindOf(err) != kind || !strings.Contains(err.Error(), want) {
				t.Errorf("FetchSnapshot(%s) = %v, want kind %v with %q", location, err, kind, want)
			}
			return
		}
		defer file.Remove()
		got, _ := os.ReadFile(file.Path)
		if kind != apierr.Internal || string(got) != want || file.Size != uint64(len(want)) || len(file.Checksum) != 64 {
			t.Errorf("FetchSnapshot(%s) read %q (%+v), want kind %v %q", location, got, file, kind, want)
		}
	}
	// apierr.Internal stands for success here.
	f("file://"+filepath.Join(root, "a.snapshot"), "", apierr.Internal, "inside")
	f("file:///a.snapshot", "", apierr.BadRequest, "inside") // absolute: /a.snapshot is outside
	f("file://"+filepath.Join(outside, "secret"), "", apierr.BadRequest, "inside")
	f("file://"+filepath.Join(root, "..", filepath.Base(outside), "secret"), "", apierr.BadRequest, "inside")
	f("file://"+filepath.Join(root, "link.snapshot"), "", apierr.BadRequest, "inside")
	f("file://"+filepath.Join(root, "missing.snapshot"), "", apierr.NotFound, "missing.snapshot")
	f("file://"+root, "", apierr.BadRequest, "inside")
	f(web.URL+"/s", "k", apierr.Internal, "from the web")
	f(web.URL+"/s", "", apierr.BadRequest, "HTTP 404")
	f("ftp://host/x", "", apierr.BadRequest, "ftp")
	f("not a url", "", apierr.BadRequest, "not a URL")

	off := service.New(service.Options{Log: zerolog.Nop()})
	if _, err := off.FetchSnapshot(context.Background(), "file://"+filepath.Join(root, "a.snapshot"), ""); apierr.KindOf(err) != apierr.BadRequest {
		t.Errorf("file:// without a snapshots path: %v", err)
	}
}
