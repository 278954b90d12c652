package rest_test

import (
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/rest"
)

func TestPeerEndpoints(t *testing.T) {
	e := newEnv(t, rest.Options{})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":1,"replication_factor":1}`)
	e.fails("DELETE", "/cluster/peer/1", ``, 400, "Cannot remove peer 1 as there are shards on it")
	if got := e.ok("DELETE", "/cluster/peer/1?force=true&timeout=5", ``); got != "true" {
		t.Fatalf("forced remove_peer result %s, want true", got)
	}
	e.fails("DELETE", "/cluster/peer/77", ``, 404, "Peer 77 doesn't exist")
	e.fails("DELETE", "/cluster/peer/x", ``, 400, "peer_id")
	e.fails("DELETE", "/cluster/peer/1?force=maybe", ``, 400, "force")
	if got := e.ok("POST", "/cluster/peer/2/drain", ``); got != "true" {
		t.Fatalf("drain result %s, want true", got)
	}
	e.ok("DELETE", "/cluster/peer/2/drain", ``)
	e.fails("POST", "/cluster/peer/77/drain", ``, 404, "Peer 77 doesn't exist")
}
