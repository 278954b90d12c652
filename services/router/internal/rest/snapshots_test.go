package rest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/rest"
)

// upload posts file as the multipart `snapshot` part.
func (e *env) upload(path string, file []byte) reply {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("snapshot", "x.snapshot")
	_, _ = fw.Write(file)
	_ = mw.Close()
	resp, err := http.Post(e.url+path, mw.FormDataContentType(), &body)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// TestSnapshotRequestValidation checks the snapshot endpoints' input
// handling, which answers before any storage node is asked. (Round trips
// against real storage nodes are in tests/e2e/snapshots_test.go.)
func TestSnapshotRequestValidation(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":2}`)

	e.fails("GET", "/collections/c/shards/x/snapshots", "", 400, "shard_id")
	e.fails("GET", "/collections/c/shards/9/snapshots", "", 404, "Shard 9")
	e.fails("POST", "/collections/c/shards/9/snapshots", "", 404, "Shard 9")
	e.fails("GET", "/collections/c/shards/9/snapshot", "", 404, "Shard 9")
	e.fails("GET", "/collections/nope/shards/0/snapshots", "", 404, "nope")
	e.fails("POST", "/collections/c/snapshots?wait=maybe", "", 400, "wait")
	e.fails("DELETE", "/collections/c/shards/0/snapshots/x?wait=maybe", "", 400, "wait")

	path := "/collections/c/snapshots/recover"
	e.fails("PUT", path, `{}`, 400, "location")
	e.fails("PUT", path, `{"location":"x","color":"red"}`, 400, "color")
	e.fails("PUT", path, `{"location":7}`, 400, "location")
	e.fails("PUT", path, `{"location":"ftp://h/x"}`, 400, "ftp")
	e.fails("PUT", path, `{"location":"file:///etc/passwd"}`, 400, "file://")
	e.fails("PUT", path, `{"location":"http://h/x","priority":"bogus"}`, 400, "bogus")
	e.fails("PUT", "/collections/c/shards/0/snapshots/recover", `{"location":"ftp://h/x"}`, 400, "ftp")

	e.fails("POST", "/collections/c/snapshots/upload", `{"snapshot":1}`, 400, "multipart")
	e.fails("POST", "/collections/c/snapshots/upload?priority=bogus", "", 400, "bogus")
	r := e.upload("/collections/c/snapshots/upload", []byte("not a snapshot"))
	if r.status != 400 || !strings.Contains(r.err(), "bad snapshot file") {
		t.Fatalf("upload of a bad file: %d %s", r.status, r.raw)
	}
	r = e.upload("/collections/c/snapshots/upload?checksum="+strings.Repeat("0", 64), []byte("not a snapshot"))
	if r.status != 400 || !strings.Contains(r.err(), "checksum mismatch") {
		t.Fatalf("upload with a wrong checksum: %d %s", r.status, r.raw)
	}
	r = e.upload("/collections/c/shards/0/snapshots/upload?checksum="+strings.Repeat("0", 64), []byte("x"))
	if r.status != 400 || !strings.Contains(r.err(), "checksum mismatch") {
		t.Fatalf("shard upload with a wrong checksum: %d %s", r.status, r.raw)
	}
	// wait=false answers once the file is received.
	r = e.upload("/collections/c/snapshots/upload?wait=false", []byte("not a snapshot"))
	if r.status != 202 || r.body["status"] != "accepted" {
		t.Fatalf("upload with wait=false: %d %s", r.status, r.raw)
	}
	// Without a record store, collection snapshots are refused cleanly.
	e.fails("POST", "/collections/c/snapshots", "", 400, "not supported")
	e.fails("GET", "/snapshots", "", 400, "not supported")
}
