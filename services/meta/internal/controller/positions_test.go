package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// positionServer serves Position like a storage node: shard 0 of
// collection c (uid u) is at (3, 42); shard 1 never answers; anything
// else is not found.
type positionServer struct {
	shoalv1connect.UnimplementedStorageServiceHandler
}

func (positionServer) Position(ctx context.Context, req *connect.Request[shoalv1.PositionRequest]) (*connect.Response[shoalv1.PositionResponse], error) {
	ref := req.Msg.GetShard()
	switch {
	case ref.GetCollection() == "c" && ref.GetUid() == "u" && ref.GetShardId() == 0:
		return connect.NewResponse(&shoalv1.PositionResponse{Term: 4, LastTerm: 3, LastSeq: 42}), nil
	case ref.GetShardId() == 1:
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("no such replica"))
}

func TestRPCPositions(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(shoalv1connect.NewStorageServiceHandler(positionServer{}))
	// Internal calls speak h2c; anything else is refused.
	h2Only := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, fmt.Sprintf("want HTTP/2, got %s", r.Proto), http.StatusHTTPVersionNotSupported)
			return
		}
		mux.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(h2Only)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()

	p := NewRPCPositions(200 * time.Millisecond)
	defer p.Close()
	node := &shoalv1.Node{Id: 7, Uri: srv.URL + "/"}
	ctx := context.Background()
	term, seq, err := p.Position(ctx, node, &shoalv1.ShardRef{Collection: "c", Uid: "u", ShardId: 0})
	if err != nil || term != 3 || seq != 42 {
		t.Fatalf("Position = (%d, %d), %v; want the last (term, seq) (3, 42)", term, seq, err)
	}
	if _, _, err := p.Position(ctx, node, &shoalv1.ShardRef{Collection: "c", Uid: "other", ShardId: 0}); connect.CodeOf(err) != connect.CodeNotFound || !strings.Contains(err.Error(), "node 7") {
		t.Fatalf("unknown replica: err = %v, want NotFound naming node 7", err)
	}
	// A node that does not answer is given up after the timeout.
	if _, _, err := p.Position(ctx, node, &shoalv1.ShardRef{Collection: "c", Uid: "u", ShardId: 1}); connect.CodeOf(err) != connect.CodeDeadlineExceeded {
		t.Fatalf("silent node: err = %v, want DeadlineExceeded", err)
	}
	if _, _, err := p.Position(ctx, &shoalv1.Node{Id: 8}, &shoalv1.ShardRef{}); err == nil || !strings.Contains(err.Error(), "no uri") {
		t.Fatalf("node without uri: err = %v", err)
	}
}
