package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/tests/harness"
)

// shardDigests returns the digest of every shard's first replica (shard
// id → digest); call it once the replicas agree (waitDigests).
func shardDigests(t *testing.T, c *harness.Cluster, collection string) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, s := range list(t, obj(t, ok(t, c, "GET", "/debug/collections/"+collection+"/digests", nil))["shards"]) {
		shard := obj(t, s)
		d, _ := obj(t, list(t, shard["replicas"])[0])["digest"].(string)
		out[int(num(t, shard["shard_id"]))] = d
	}
	return out
}

// shardPoints returns the point count of every shard's first replica.
func shardPoints(t *testing.T, c *harness.Cluster, collection string) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, s := range list(t, obj(t, ok(t, c, "GET", "/debug/collections/"+collection+"/digests", nil))["shards"]) {
		shard := obj(t, s)
		out[int(num(t, shard["shard_id"]))] = int(num(t, obj(t, list(t, shard["replicas"])[0])["points"]))
	}
	return out
}

// download GETs a snapshot's bytes, checking the answer against the
// contract.
func download(t *testing.T, c *harness.Cluster, path string) []byte {
	t.Helper()
	r := c.Do("GET", path, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %.500s", path, r.Status, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("GET %s: content type %q", path, ct)
	}
	return r.Raw
}

// upload POSTs file as the `snapshot` part of a multipart form and
// returns the status and decoded body, checked against the contract.
func upload(t *testing.T, c *harness.Cluster, path string, file []byte) harness.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("snapshot", "upload.snapshot")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(file)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", c.URL+path, bytes.NewReader(body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := harness.Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	if harness.CheckResponse != nil {
		if err := harness.CheckResponse(req, out.Status, out.Header, raw); err != nil {
			t.Errorf("%v", err)
		}
	}
	return out
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// checkDescription checks a SnapshotDescription against downloaded bytes.
func checkDescription(t *testing.T, d map[string]any, file []byte) {
	t.Helper()
	if int(num(t, d["size"])) != len(file) || d["checksum"] != sha(file) {
		t.Fatalf("description %v does not match the %d downloaded bytes (sha256 %s)", d, len(file), sha(file))
	}
	if _, err := time.Parse("2006-01-02T15:04:05", fmt.Sprint(d["creation_time"])); err != nil {
		t.Fatalf("creation_time %v: %v", d["creation_time"], err)
	}
}

// TestSnapshotsCollectionRoundTrip snapshots a 2-shard, rf-2 collection,
// deletes points, recovers it by upload (and into a new collection), and
// checks every replica holds the snapshot's points again.
func TestSnapshotsCollectionRoundTrip(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 3})
	ok(t, c, "PUT", "/collections/snap", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 2, "replication_factor": 2,
	})
	waitDigests(t, c, "snap", 2, 0)
	for from := 1; from <= 300; from += 100 {
		ok(t, c, "PUT", "/collections/snap/points?wait=true", map[string]any{"points": replicatedPoints(from, from+99)})
	}
	waitDigests(t, c, "snap", 2, 300)
	before := shardDigests(t, c, "snap")

	desc := obj(t, ok(t, c, "POST", "/collections/snap/snapshots", nil))
	name := fmt.Sprint(desc["name"])
	listed := list(t, ok(t, c, "GET", "/collections/snap/snapshots", nil))
	if len(listed) != 1 || obj(t, listed[0])["name"] != name || obj(t, listed[0])["checksum"] != desc["checksum"] {
		t.Fatalf("list %v, created %v", listed, desc)
	}
	file := download(t, c, "/collections/snap/snapshots/"+name)
	checkDescription(t, desc, file)
	if again := download(t, c, "/collections/snap/snapshots/"+name); !bytes.Equal(again, file) {
		t.Fatal("a second download differs from the first")
	}

	// Errors.
	fails(t, c, "GET", "/collections/snap/snapshots/nope.snapshot", nil, http.StatusNotFound, "nope.snapshot")
	fails(t, c, "DELETE", "/collections/snap/snapshots/nope.snapshot", nil, http.StatusNotFound, "nope.snapshot")
	fails(t, c, "GET", "/collections/nope/snapshots", nil, http.StatusNotFound, "nope")
	fails(t, c, "POST", "/collections/nope/snapshots", nil, http.StatusNotFound, "nope")
	fails(t, c, "PUT", "/collections/snap/snapshots/recover", map[string]any{"location": "ftp://x/y"}, http.StatusBadRequest, "ftp")
	fails(t, c, "PUT", "/collections/snap/snapshots/recover", map[string]any{"location": "file:///etc/passwd"}, http.StatusBadRequest, "inside")
	fails(t, c, "PUT", "/collections/snap/snapshots/recover", map[string]any{}, http.StatusBadRequest, "location")

	ok(t, c, "POST", "/collections/snap/points/delete?wait=true", map[string]any{"points": pointRange(1, 100)})
	waitDigests(t, c, "snap", 2, 200)

	// A wrong checksum or a bad file changes nothing.
	r := upload(t, c, "/collections/snap/snapshots/upload?checksum="+strings.Repeat("0", 64), file)
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Error(), "checksum") {
		t.Fatalf("upload with a wrong checksum: %d %s", r.Status, r.Raw)
	}
	r = upload(t, c, "/collections/snap/snapshots/upload", []byte("not a snapshot"))
	if r.Status != http.StatusBadRequest {
		t.Fatalf("upload of a bad file: %d %s", r.Status, r.Raw)
	}
	corrupt := append([]byte(nil), file...)
	corrupt[len(corrupt)-2048] ^= 0xff // inside the last shard's file
	r = upload(t, c, "/collections/snap/snapshots/upload", corrupt)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("upload of a corrupt file: %d %s", r.Status, r.Raw)
	}
	if n := countPoints(t, c, "snap"); n != 200 {
		t.Fatalf("%d points after refused recoveries, want 200", n)
	}

	// Recover by upload: every replica holds the snapshot's points again.
	r = upload(t, c, "/collections/snap/snapshots/upload?priority=snapshot&checksum="+sha(file), file)
	if r.Status != http.StatusOK || r.Result() != true {
		t.Fatalf("upload: %d %s", r.Status, r.Raw)
	}
	waitDigests(t, c, "snap", 2, 300)
	if after := shardDigests(t, c, "snap"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("digests after recovery %v, at the snapshot %v", after, before)
	}
	requireReadable(t, c, "snap", pointRange(1, 300))
	// Writes go on after the recovery.
	ok(t, c, "PUT", "/collections/snap/points?wait=true", map[string]any{"points": replicatedPoints(301, 310)})
	waitDigests(t, c, "snap", 2, 310)

	// Recover into a collection that does not exist: created from the
	// manifest.
	r = upload(t, c, "/collections/copy/snapshots/upload", file)
	if r.Status != http.StatusOK {
		t.Fatalf("upload into a new collection: %d %s", r.Status, r.Raw)
	}
	waitDigests(t, c, "copy", 2, 300)
	if got := shardDigests(t, c, "copy"); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("digests of the copy %v, of the original %v", got, before)
	}
	// Recover from a URL: the router's own download endpoint.
	ok(t, c, "PUT", "/collections/fromurl/snapshots/recover", map[string]any{
		"location": c.URL + "/collections/snap/snapshots/" + name, "checksum": sha(file), "priority": "replica",
	})
	waitDigests(t, c, "fromurl", 2, 300)
	if got := shardDigests(t, c, "fromurl"); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("digests of the collection recovered from a URL %v, of the original %v", got, before)
	}
	fails(t, c, "PUT", "/collections/fromurl/snapshots/recover", map[string]any{"location": c.URL + "/collections/snap/snapshots/nope.snapshot"}, http.StatusBadRequest, "HTTP 404")

	// A collection with another shard count is refused.
	ok(t, c, "PUT", "/collections/one", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 1})
	r = upload(t, c, "/collections/one/snapshots/upload", file)
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Error(), "shards") {
		t.Fatalf("upload into a 1-shard collection: %d %s", r.Status, r.Raw)
	}

	// wait=false answers 202 and the snapshot appears.
	r = c.Do("POST", "/collections/snap/snapshots?wait=false", nil)
	if r.Status != http.StatusAccepted || r.Body["status"] != "accepted" {
		t.Fatalf("create with wait=false: %d %s", r.Status, r.Raw)
	}
	eventually(t, "background snapshot listed", func() bool {
		return len(list(t, ok(t, c, "GET", "/collections/snap/snapshots", nil))) == 2
	})

	if ok(t, c, "DELETE", "/collections/snap/snapshots/"+name, nil) != true {
		t.Fatal("delete did not answer true")
	}
	fails(t, c, "GET", "/collections/snap/snapshots/"+name, nil, http.StatusNotFound, name)
	if got := list(t, ok(t, c, "GET", "/collections/snap/snapshots", nil)); len(got) != 1 {
		t.Fatalf("after delete: %v", got)
	}
}

func pointRange(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestSnapshotsShardAndFull round-trips a shard snapshot, takes a full
// snapshot, and drives collection snapshots with the official client.
func TestSnapshotsShardAndFull(t *testing.T) {
	c := harness.Start(t, harness.Options{StorageNodes: 2})
	ok(t, c, "PUT", "/collections/sh", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 2, "replication_factor": 2,
	})
	waitDigests(t, c, "sh", 2, 0)
	ok(t, c, "PUT", "/collections/sh/points?wait=true", map[string]any{"points": replicatedPoints(1, 200)})
	waitDigests(t, c, "sh", 2, 200)
	before := shardDigests(t, c, "sh")
	counts := shardPoints(t, c, "sh")

	// Shard 1: create, list, download.
	desc := obj(t, ok(t, c, "POST", "/collections/sh/shards/1/snapshots", nil))
	name := fmt.Sprint(desc["name"])
	listed := list(t, ok(t, c, "GET", "/collections/sh/shards/1/snapshots", nil))
	if len(listed) != 1 || obj(t, listed[0])["name"] != name {
		t.Fatalf("shard list %v, created %v", listed, desc)
	}
	if got := list(t, ok(t, c, "GET", "/collections/sh/shards/0/snapshots", nil)); len(got) != 0 {
		t.Fatalf("shard 0 lists %v", got)
	}
	file := download(t, c, "/collections/sh/shards/1/snapshots/"+name)
	checkDescription(t, desc, file)
	fails(t, c, "GET", "/collections/sh/shards/7/snapshots", nil, http.StatusNotFound, "Shard 7")
	fails(t, c, "GET", "/collections/sh/shards/1/snapshots/nope.snapshot", nil, http.StatusNotFound, "nope.snapshot")

	// Recover shard 1 from a URL (the download endpoint) while it holds
	// the same content: nothing changes.
	ok(t, c, "PUT", "/collections/sh/shards/1/snapshots/recover", map[string]any{
		"location": c.URL + "/collections/sh/shards/1/snapshots/" + name, "checksum": sha(file),
	})
	waitDigests(t, c, "sh", 2, 200)
	if got := shardDigests(t, c, "sh"); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("digests after recovering the same content %v, before %v", got, before)
	}

	// Delete every point, recover shard 1 only: its points are back.
	ok(t, c, "POST", "/collections/sh/points/delete?wait=true", map[string]any{"points": pointRange(1, 200)})
	waitDigests(t, c, "sh", 2, 0)
	r := upload(t, c, "/collections/sh/shards/1/snapshots/upload?checksum="+strings.Repeat("ab", 32), file)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("shard upload with a wrong checksum: %d %s", r.Status, r.Raw)
	}
	r = upload(t, c, "/collections/sh/shards/1/snapshots/upload", file)
	if r.Status != http.StatusOK || r.Result() != true {
		t.Fatalf("shard upload: %d %s", r.Status, r.Raw)
	}
	eventually(t, "shard 1 restored on both replicas", func() bool {
		agree, _ := digestsAgree(t, c, "sh", 2, counts[1])
		return agree && shardDigests(t, c, "sh")[1] == before[1]
	})

	// The streamed shard snapshot is a fresh copy of the same content.
	streamed := download(t, c, "/collections/sh/shards/1/snapshot")
	if len(streamed) == 0 {
		t.Fatal("empty streamed shard snapshot")
	}
	if ok(t, c, "DELETE", "/collections/sh/shards/1/snapshots/"+name, nil) != true {
		t.Fatal("shard snapshot delete did not answer true")
	}
	fails(t, c, "DELETE", "/collections/sh/shards/1/snapshots/"+name, nil, http.StatusNotFound, name)
	if got := list(t, ok(t, c, "GET", "/collections/sh/shards/1/snapshots", nil)); len(got) != 0 {
		t.Fatalf("shard snapshots left: %v (the streamed one must be gone)", got)
	}

	// Full snapshots.
	full := obj(t, ok(t, c, "POST", "/snapshots", nil))
	fullName := fmt.Sprint(full["name"])
	if got := list(t, ok(t, c, "GET", "/snapshots", nil)); len(got) != 1 || obj(t, got[0])["name"] != fullName {
		t.Fatalf("full snapshots %v", got)
	}
	checkDescription(t, full, download(t, c, "/snapshots/"+fullName))
	if got := list(t, ok(t, c, "GET", "/collections/sh/snapshots", nil)); len(got) != 0 {
		t.Fatalf("a full snapshot's collection snapshots are listed: %v", got)
	}
	ok(t, c, "DELETE", "/snapshots/"+fullName, nil)
	fails(t, c, "GET", "/snapshots/"+fullName, nil, http.StatusNotFound, fullName)

	// The official client: Create, List, Delete.
	cl := newGRPCClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := cl.CreateSnapshot(ctx, "sh")
	if err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if snap.GetSize() <= 0 || len(snap.GetChecksum()) != 64 || snap.GetCreationTime() == nil {
		t.Fatalf("CreateSnapshot = %v", snap)
	}
	got, err := cl.ListSnapshots(ctx, "sh")
	if err != nil || len(got) != 1 || got[0].GetName() != snap.GetName() || got[0].GetChecksum() != snap.GetChecksum() {
		t.Fatalf("ListSnapshots = %v, %v", got, err)
	}
	grpcFile := download(t, c, "/collections/sh/snapshots/"+snap.GetName())
	if sha(grpcFile) != snap.GetChecksum() || int64(len(grpcFile)) != snap.GetSize() {
		t.Fatal("the gRPC description does not match the download")
	}
	if err := cl.DeleteSnapshot(ctx, "sh", snap.GetName()); err != nil {
		t.Fatalf("DeleteSnapshot: %v", err)
	}
	if err := cl.DeleteSnapshot(ctx, "sh", snap.GetName()); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("second DeleteSnapshot: %v, want NotFound", err)
	}
	if got, err := cl.ListSnapshots(ctx, "sh"); err != nil || len(got) != 0 {
		t.Fatalf("ListSnapshots after delete = %v, %v", got, err)
	}
	fs, err := cl.CreateFullSnapshot(ctx)
	if err != nil {
		t.Fatalf("CreateFullSnapshot: %v", err)
	}
	if all, err := cl.ListFullSnapshots(ctx); err != nil || len(all) != 1 {
		t.Fatalf("ListFullSnapshots = %v, %v", all, err)
	}
	if err := cl.DeleteFullSnapshot(ctx, fs.GetName()); err != nil {
		t.Fatalf("DeleteFullSnapshot: %v", err)
	}
}
