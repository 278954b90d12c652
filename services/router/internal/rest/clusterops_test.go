package rest_test

import (
	"encoding/json"
	"strings"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/rest"
	"google.golang.org/protobuf/proto"
)

func TestClusterOperations(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":2,"replication_factor":1}`)
	e.ok("POST", "/collections/c/cluster", `{"replicate_shard":{"shard_id":1,"from_peer_id":2,"to_peer_id":3,"method":"snapshot"}}`)
	e.ok("POST", "/collections/c/cluster", `{"move_shard":{"shard_id":0,"from_peer_id":1,"to_peer_id":3}}`)
	e.ok("POST", "/collections/c/cluster", `{"drop_replica":{"shard_id":0,"peer_id":1}}`)
	e.ok("POST", "/collections/c/cluster", `{"restart_transfer":{"shard_id":1,"from_peer_id":2,"to_peer_id":3,"method":"wal_delta"}}`)
	want := []*shoalv1.UpdateClusterSetupRequest{
		{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_ReplicateShard{ReplicateShard: &shoalv1.ShardTransferOp{ShardId: 1, FromPeerId: 2, ToPeerId: 3, Method: "snapshot"}}},
		{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_MoveShard{MoveShard: &shoalv1.ShardTransferOp{ShardId: 0, FromPeerId: 1, ToPeerId: 3}}},
		{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_DropReplica{DropReplica: &shoalv1.DropReplicaOp{ShardId: 0, PeerId: 1}}},
		{Collection: "c", Operation: &shoalv1.UpdateClusterSetupRequest_RestartTransfer{RestartTransfer: &shoalv1.ShardTransferOp{ShardId: 1, FromPeerId: 2, ToPeerId: 3, Method: "wal_delta"}}},
	}
	got := e.fc.Ops.Requests()
	if len(got) != len(want) {
		t.Fatalf("meta got %d requests, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("request %d: got %v, want %v", i, got[i], want[i])
		}
	}

	var info struct {
		ShardTransfers []map[string]any `json:"shard_transfers"`
	}
	if err := json.Unmarshal([]byte(e.ok("GET", "/collections/c/cluster", ``)), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.ShardTransfers) != 2 {
		t.Fatalf("shard_transfers: %v", info.ShardTransfers)
	}
	first := info.ShardTransfers[0]
	if first["shard_id"] != 1.0 || first["from"] != 2.0 || first["to"] != 3.0 || first["sync"] != true || first["method"] != "snapshot" || first["comment"] == "" {
		t.Fatalf("replication transfer: %v", first)
	}
	if second := info.ShardTransfers[1]; second["sync"] != false || second["method"] != nil {
		t.Fatalf("move transfer: %v", second)
	}
	// The primary's progress report becomes the transfer's comment.
	for _, tr := range e.fc.State.Transfers("c") {
		if tr.GetShardId() == 1 {
			e.fc.State.SetTransferProgress("c", 1, 3, &shoalv1.TransferProgress{
				Collection: "c", Uid: tr.GetUid(), ShardId: 1, FromNode: 2, ToNode: 3, Method: "snapshot",
				BytesDone: 1 << 20, BytesTotal: 4 << 20, StartedUnixMs: 1000, UpdatedUnixMs: 2000,
			})
		}
	}
	if err := json.Unmarshal([]byte(e.ok("GET", "/collections/c/cluster", ``)), &info); err != nil {
		t.Fatal(err)
	}
	if c, _ := info.ShardTransfers[0]["comment"].(string); !strings.HasPrefix(c, "snapshot: 1.0 MiB of 4.0 MiB (25%), 1.0 MiB/s, ETA 3s") {
		t.Fatalf("comment with progress: %q", c)
	}

	e.ok("POST", "/collections/c/cluster", `{"abort_transfer":{"shard_id":1,"from_peer_id":2,"to_peer_id":3}}`)
	e.fails("POST", "/collections/c/cluster", `{"abort_transfer":{"shard_id":1,"from_peer_id":2,"to_peer_id":3}}`, 404, "does not exist")
	e.fails("POST", "/collections/c/cluster", `{"replicate_shard":{"shard_id":9,"from_peer_id":2,"to_peer_id":3}}`, 400, "Shard 9 does not exist")
	e.fails("POST", "/collections/nope/cluster", `{"drop_replica":{"shard_id":0,"peer_id":1}}`, 404, "nope")

	// Malformed bodies never reach meta.
	n := len(e.fc.Ops.Requests())
	for _, bad := range []struct{ body, msg string }{
		{`{}`, "expected exactly one of"},
		{`{"move_shard":{"shard_id":0,"from_peer_id":1,"to_peer_id":3},"drop_replica":{"shard_id":0,"peer_id":1}}`, "expected exactly one of"},
		{`{"move_shard":{"shard_id":0,"from_peer_id":1}}`, "missing field `to_peer_id`"},
		{`{"move_shard":{"from_peer_id":1,"to_peer_id":3}}`, "missing field `shard_id`"},
		{`{"move_shard":{"shard_id":0,"from_peer_id":1,"to_peer_id":3,"method":"fax"}}`, "unknown variant `fax`"},
		{`{"move_shard":{"shard_id":-1,"from_peer_id":1,"to_peer_id":3}}`, "shard_id"},
		{`{"move_shard":{"shard_id":0,"from_peer_id":1,"to_peer_id":3,"to_shard_id":1}}`, "resharding"},
		{`{"drop_replica":{"shard_id":0}}`, "missing field `peer_id`"},
		{`{"restart_transfer":{"shard_id":1,"from_peer_id":2,"to_peer_id":3}}`, "missing field `method`"},
		{`{"abort_transfer":{"shard_id":1,"from_peer_id":2,"to_peer_id":3,"method":"snapshot"}}`, "unknown field `method`"},
		{`{"teleport_shard":{}}`, "unknown field `teleport_shard`"},
	} {
		e.fails("POST", "/collections/c/cluster", bad.body, 400, bad.msg)
	}
	if len(e.fc.Ops.Requests()) != n {
		t.Fatalf("a malformed body reached meta: %v", e.fc.Ops.Requests()[n:])
	}
}
