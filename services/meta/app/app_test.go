package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/nats-io/nats.go"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/pkg/config"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	"google.golang.org/protobuf/proto"
)

// start starts a meta node that stops when the test ends.
func start(t *testing.T, cfg config.Config) *App {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, err := Start(ctx, cfg, testutil.Logger(t))
	if err != nil {
		t.Fatalf("start meta node %s: %v", cfg.Node.URI, err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return a
}

// h2cClient speaks HTTP/2 without TLS only, as internal Connect clients do.
func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}

func TestSingleNode(t *testing.T) {
	cfg := testutil.Node(t, t.TempDir())
	a := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if a.MemberID() == 0 || a.PeerURL() != cfg.Node.URI || a.ClientURL() != cfg.Meta.Endpoints[0] ||
		a.APIURL() != fmt.Sprintf("http://127.0.0.1:%d", cfg.Meta.APIPort) ||
		a.NATSURL() != fmt.Sprintf("nats://127.0.0.1:%d", cfg.Meta.NATSPort) {
		t.Fatalf("addresses: member %x peer %s client %s api %s nats %s", a.MemberID(), a.PeerURL(), a.ClientURL(), a.APIURL(), a.NATSURL())
	}

	// Registered as a META node, with the NATS URL under the same lease.
	resp, err := a.Client().Get(ctx, cluster.NodeKey(a.MemberID()))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("node key: %v, %v", resp, err)
	}
	node := &shoalv1.Node{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, node); err != nil {
		t.Fatal(err)
	}
	if node.Id != a.MemberID() || node.Tier != shoalv1.NodeTier_NODE_TIER_META || node.Uri != a.PeerURL() || node.ApiUri != a.APIURL() || node.Version == "" || resp.Kvs[0].Lease == 0 {
		t.Fatalf("registered node = %v (lease %x)", node, resp.Kvs[0].Lease)
	}
	natsKey, err := a.Client().Get(ctx, cluster.NATSKey(a.MemberID()))
	if err != nil || len(natsKey.Kvs) != 1 || string(natsKey.Kvs[0].Value) != a.NATSURL() || natsKey.Kvs[0].Lease != resp.Kvs[0].Lease {
		t.Fatalf("NATS key = %v, %v; want %s under the node's lease", natsKey, err, a.NATSURL())
	}

	t.Run("nats request reply", func(t *testing.T) {
		nc, err := nats.Connect(a.NATSURL(), nats.Timeout(5*time.Second))
		if err != nil {
			t.Fatalf("connect to %s: %v", a.NATSURL(), err)
		}
		defer nc.Close()
		sub, err := nc.Subscribe("shoal.test.echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("echo: "), m.Data...)) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		reply, err := nc.Request("shoal.test.echo", []byte("ping"), 5*time.Second)
		if err != nil || string(reply.Data) != "echo: ping" {
			t.Fatalf("request = %v, %v; want echo: ping", reply, err)
		}
	})

	t.Run("healthz", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.APIURL()+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body["status"] != "ok" {
			t.Fatalf("healthz = %d %v (%v)", resp.StatusCode, body, err)
		}
	})

	t.Run("meta API over h2c", func(t *testing.T) {
		client := shoalv1connect.NewMetaServiceClient(h2cClient(), a.APIURL())
		cfg := &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": {Size: 4, Distance: shoalv1.Distance_DISTANCE_DOT}}}
		_, err := client.CreateCollection(ctx, connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: "c", Config: cfg}))
		if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "no storage node") {
			t.Fatalf("create without storage nodes: %v, want FailedPrecondition", err)
		}
		_, err = client.CreateCollection(ctx, connect.NewRequest(&shoalv1.CreateCollectionRequest{Name: "..", Config: cfg}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("create ..: %v, want InvalidArgument", err)
		}
		del, err := client.DeleteCollection(ctx, connect.NewRequest(&shoalv1.DeleteCollectionRequest{Name: "c"}))
		if err != nil || del.Msg.Deleted {
			t.Fatalf("delete missing = %v, %v; want deleted=false", del, err)
		}
	})

	if err := a.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Meta.APIPort), time.Second); err == nil {
		conn.Close()
		t.Fatal("API port still accepts connections after Close")
	}
}

func TestExternalNATS(t *testing.T) {
	cfg := testutil.Node(t, t.TempDir())
	cfg.Meta.NATSURL = "nats://nats.example:4222"
	a := start(t, cfg)
	if a.NATSURL() != cfg.Meta.NATSURL {
		t.Fatalf("NATSURL = %s, want the external %s", a.NATSURL(), cfg.Meta.NATSURL)
	}
	resp, err := a.Client().Get(context.Background(), cluster.NATSKey(a.MemberID()))
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != cfg.Meta.NATSURL {
		t.Fatalf("published NATS URL = %v, %v; want %s", resp, err, cfg.Meta.NATSURL)
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Meta.NATSPort), time.Second); err == nil {
		conn.Close()
		t.Fatal("an embedded NATS server listens although meta.nats_url is set")
	}
}

func TestStartFailsCleanly(t *testing.T) {
	// The API port is taken: Start fails and releases what it started, so
	// the same etcd data dir and ports can be used again right away.
	dir := t.TempDir()
	cfg := testutil.Node(t, dir)
	ln, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", cfg.Meta.APIPort))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), cfg, testutil.Logger(t))
	ln.Close()
	if err == nil || !strings.Contains(err.Error(), "meta API") {
		t.Fatalf("Start with a taken API port: %v, want a meta API error", err)
	}
	a := start(t, cfg)
	if a.MemberID() == 0 {
		t.Fatal("no member id after restart")
	}
}
