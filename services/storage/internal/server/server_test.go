package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/storage/internal/node"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
)

// oneReplica serves a single replica under the uid "u" and fails other
// lookups with err.
type oneReplica struct {
	r   *replica.Replica
	err error
}

func (o oneReplica) Replica(_ context.Context, ref *shoalv1.ShardRef) (*replica.Replica, error) {
	if ref.GetUid() == "u" {
		return o.r, nil
	}
	return nil, o.err
}

func TestErrorCodes(t *testing.T) {
	r, err := replica.Open(filepath.Join(t.TempDir(), "s.db"), &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f := func(lookupErr error, uid string, points []*shoalv1.Point, want connect.Code) {
		t.Helper()
		srv := httptest.NewServer(New(oneReplica{r, lookupErr}, zerolog.Nop()).Handler())
		defer srv.Close()
		c := shoalv1connect.NewStorageServiceClient(http.DefaultClient, srv.URL)
		var ref *shoalv1.ShardRef
		if uid != "" {
			ref = &shoalv1.ShardRef{Uid: uid}
		}
		_, err := c.Upsert(context.Background(), connect.NewRequest(&shoalv1.UpsertRequest{Shard: ref, Points: points}))
		if connect.CodeOf(err) != want {
			t.Fatalf("lookup error %v, uid %q: got %v, want %v", lookupErr, uid, err, want)
		}
	}
	bad := []*shoalv1.Point{{Id: &shoalv1.PointID{Kind: &shoalv1.PointID_Num{Num: 1}}, Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{1}}}}}
	f(nil, "", nil, connect.CodeInvalidArgument)
	f(nil, "u", bad, connect.CodeInvalidArgument)
	f(fmt.Errorf("lookup: %w", node.ErrNotFound), "x", nil, connect.CodeNotFound)
	f(replica.ErrClosed, "x", nil, connect.CodeUnavailable)
	f(context.DeadlineExceeded, "x", nil, connect.CodeDeadlineExceeded)
	f(errors.New("disk on fire"), "x", nil, connect.CodeInternal)
	r.Close()
	f(nil, "u", nil, connect.CodeUnavailable)
}
