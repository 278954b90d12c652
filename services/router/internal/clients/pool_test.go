package clients

import (
	"context"
	"net"
	"net/http"
	"strings"
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

// TestPoolProtocols checks that the pool's clients reach Connect handlers
// served the way storage and meta nodes serve them (HTTP/1 + unencrypted
// HTTP/2): storage clients over HTTP/1.1, meta clients over HTTP/2, and
// neither asks for compressed answers.
func TestPoolProtocols(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		major    int
		encoding string
	}
	protos := make(chan seen, 1)
	observe := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case protos <- seen{r.ProtoMajor, r.Header.Get("Accept-Encoding")}:
			default:
			}
			h.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	path, h := shoalv1connect.NewStorageServiceHandler(countHandler{})
	mux.Handle(path, observe(h))
	mpath, mh := shoalv1connect.NewMetaServiceHandler(shoalv1connect.UnimplementedMetaServiceHandler{})
	mux.Handle(mpath, observe(mh))
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
	if got := <-protos; got.major != 1 || strings.Contains(got.encoding, "gzip") {
		t.Fatalf("storage request used HTTP/%d, Accept-Encoding %q", got.major, got.encoding)
	}
	_, _ = pool.Meta(uri).DeleteCollection(context.Background(), connect.NewRequest(&shoalv1.DeleteCollectionRequest{}))
	if got := <-protos; got.major != 2 || strings.Contains(got.encoding, "gzip") {
		t.Fatalf("meta request used HTTP/%d, Accept-Encoding %q", got.major, got.encoding)
	}
	_, err = pool.Storage("http://127.0.0.1:1").Count(context.Background(), connect.NewRequest(&shoalv1.CountRequest{}))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("unreachable node: %v (code %v), want Unavailable", err, connect.CodeOf(err))
	}
}
