package clients

import (
	"context"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

type countHandler struct {
	shoalv1connect.UnimplementedStorageServiceHandler
}

func (h countHandler) Count(_ context.Context, req *connect.Request[shoalv1.CountRequest]) (*connect.Response[shoalv1.CountResponse], error) {
	return connect.NewResponse(&shoalv1.CountResponse{Count: uint64(req.Msg.GetShard().GetShardId()) * 10}), nil
}

// TestPoolSpeaksH2C checks that the pool's clients reach a Connect handler
// served the way storage nodes serve it (HTTP/1 + unencrypted HTTP/2),
// over HTTP/2.
func TestPoolSpeaksH2C(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	protos := make(chan int, 1)
	path, h := shoalv1connect.NewStorageServiceHandler(countHandler{})
	mux := http.NewServeMux()
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case protos <- r.ProtoMajor:
		default:
		}
		h.ServeHTTP(w, r)
	}))
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	pool := NewPool()
	defer pool.Close()
	uri := "http://" + ln.Addr().String() + "/"
	if pool.Storage(uri) != pool.Storage("http://"+ln.Addr().String()) {
		t.Fatal("one node got two clients")
	}
	resp, err := pool.Storage(uri).Count(context.Background(), connect.NewRequest(&shoalv1.CountRequest{Shard: &shoalv1.ShardRef{ShardId: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Msg.GetCount() != 40 {
		t.Fatalf("count %d", resp.Msg.GetCount())
	}
	if got := <-protos; got != 2 {
		t.Fatalf("request used HTTP/%d", got)
	}
	_, err = pool.Storage("http://127.0.0.1:1").Count(context.Background(), connect.NewRequest(&shoalv1.CountRequest{}))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("unreachable node: %v (code %v), want Unavailable", err, connect.CodeOf(err))
	}
}
