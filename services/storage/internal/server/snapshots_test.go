package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
	"github.com/shoaldb/shoal/services/storage/internal/replication"
	"github.com/shoaldb/shoal/services/storage/internal/snapshots"
)

// checkingRestorer checks the file it is given, as the coordinator does,
// and remembers its bytes; err, when set, is its answer instead.
type checkingRestorer struct {
	got []byte
	err error
}

func (c *checkingRestorer) Restore(_ context.Context, _ *shoalv1.ShardRef, path string) (replica.SnapshotInfo, error) {
	if c.err != nil {
		return replica.SnapshotInfo{}, c.err
	}
	info, err := replica.CheckSnapshot(path)
	if err != nil {
		return info, err
	}
	c.got, err = os.ReadFile(path)
	return info, err
}

func TestShardSnapshotRPCs(t *testing.T) {
	cfg := &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}}
	r, err := replica.Open(filepath.Join(t.TempDir(), "s.db"), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	var pts []*shoalv1.Point
	for i := uint64(1); i <= 50; i++ {
		pts = append(pts, &shoalv1.Point{Id: &shoalv1.PointID{Kind: &shoalv1.PointID_Num{Num: i}}, Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{float32(i), 1}}}})
	}
	if _, err := r.Apply(ctx, &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{Points: pts}}}, true); err != nil {
		t.Fatal(err)
	}
	restorer := &checkingRestorer{}
	store := snapshots.New(t.TempDir())
	srv := httptest.NewServer(New(oneReplica{r: r}, direct{oneReplica{r: r}}, zerolog.Nop()).WithSnapshots(store, restorer, 9).Handler())
	defer srv.Close()
	c := shoalv1connect.NewStorageServiceClient(http.DefaultClient, srv.URL)
	ref := &shoalv1.ShardRef{Collection: "c", Uid: "u", ShardId: 3}

	created, err := c.CreateShardSnapshot(ctx, connect.NewRequest(&shoalv1.CreateShardSnapshotRequest{Shard: ref}))
	if err != nil {
		t.Fatal(err)
	}
	snap := created.Msg
	if snap.GetNode() != 9 || snap.GetSize() == 0 || len(snap.GetChecksum()) != 64 || snap.GetSeq() != 1 {
		t.Fatalf("created %v", snap)
	}
	list, err := c.ListShardSnapshots(ctx, connect.NewRequest(&shoalv1.ListShardSnapshotsRequest{Shard: ref}))
	if err != nil || len(list.Msg.GetSnapshots()) != 1 || list.Msg.GetSnapshots()[0].GetName() != snap.GetName() {
		t.Fatalf("list %v, %v", list, err)
	}

	download := func(name string) ([]byte, error) {
		stream, err := c.DownloadShardSnapshot(ctx, connect.NewRequest(&shoalv1.DownloadShardSnapshotRequest{Shard: ref, Name: name}))
		if err != nil {
			return nil, err
		}
		defer stream.Close()
		var out []byte
		for stream.Receive() {
			out = append(out, stream.Msg().GetData()...)
		}
		return out, stream.Err()
	}
	file, err := download(snap.GetName())
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(file)
	if uint64(len(file)) != snap.GetSize() || hex.EncodeToString(h[:]) != snap.GetChecksum() {
		t.Fatalf("downloaded %d bytes with sha256 %x; described %v", len(file), h, snap)
	}
	if _, err := download("missing.snapshot"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("download of a missing snapshot: %v", err)
	}
	if _, err := download("../escape"); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("download of ../escape: %v", err)
	}

	recover := func(checksum string, data []byte) (*shoalv1.ShardSnapshot, error) {
		stream := c.RecoverShardSnapshot(ctx)
		first := true
		for len(data) > 0 || first {
			n := min(len(data), 1000)
			msg := &shoalv1.RecoverShardSnapshotRequest{Data: data[:n]}
			if first {
				msg.Shard, msg.Checksum, first = ref, checksum, false
			}
			if err := stream.Send(msg); err != nil {
				break
			}
			data = data[n:]
		}
		resp, err := stream.CloseAndReceive()
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	f := func(what, checksum string, data []byte, restoreErr error, want connect.Code) {
		t.Helper()
		restorer.got, restorer.err = nil, restoreErr
		got, err := recover(checksum, data)
		if (want == 0) != (err == nil) || (err != nil && connect.CodeOf(err) != want) || (want != 0 && restorer.got != nil) {
			t.Fatalf("%s: %v (restored %d bytes), want %v", what, err, len(restorer.got), want)
		}
		if want == 0 && (!bytes.Equal(restorer.got, file) || got.GetSeq() != 1 || got.GetChecksum() != snap.GetChecksum()) {
			t.Fatalf("%s: restored %d bytes, answered %v", what, len(restorer.got), got)
		}
	}
	f("wrong checksum", fmt.Sprintf("%064d", 0), file, nil, connect.CodeInvalidArgument)
	f("not a replica file", "", []byte("garbage"), nil, connect.CodeInvalidArgument)
	f("empty", "", nil, nil, connect.CodeInvalidArgument)
	f("not the primary", "", file, fmt.Errorf("restore: %w", replication.ErrNotPrimary), connect.CodeFailedPrecondition)
	f("good", snap.GetChecksum(), file, nil, 0)
	f("good without checksum", "", file, nil, 0)
	if left, _ := os.ReadDir(filepath.Join(store.Root(), ".incoming")); len(left) != 0 {
		t.Fatalf("received files left behind: %v", left)
	}

	if _, err := c.DeleteShardSnapshot(ctx, connect.NewRequest(&shoalv1.DeleteShardSnapshotRequest{Shard: ref, Name: snap.GetName()})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteShardSnapshot(ctx, connect.NewRequest(&shoalv1.DeleteShardSnapshotRequest{Shard: ref, Name: snap.GetName()})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("second delete: %v", err)
	}
}
