package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
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

// direct applies writes to the replica itself, without replication: these
// tests are about the API's error mapping.
type direct struct{ oneReplica }

func (d direct) Write(ctx context.Context, ref *shoalv1.ShardRef, _ uint64, op *shoalv1.Operation, wait bool) (uint64, error) {
	r, err := d.Replica(ctx, ref)
	if err != nil {
		return 0, err
	}
	return r.Apply(ctx, op, wait)
}

func (direct) Replicate(context.Context, *shoalv1.ReplicateRequest) (*shoalv1.ReplicateResponse, error) {
	return nil, errors.New("not replicated here")
}

func (direct) Install(context.Context, *shoalv1.InstallRequest) error {
	return errors.New("not replicated here")
}

func (direct) Position(context.Context, *shoalv1.ShardRef) (*shoalv1.PositionResponse, error) {
	return nil, errors.New("not replicated here")
}

func TestErrorCodes(t *testing.T) {
	r, err := replica.Open(filepath.Join(t.TempDir(), "s.db"), &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f := func(lookupErr error, uid string, points []*shoalv1.Point, want connect.Code) {
		t.Helper()
		srv := httptest.NewServer(New(oneReplica{r, lookupErr}, direct{oneReplica{r, lookupErr}}, zerolog.Nop()).Handler())
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

func TestUpdateInfoAndFilteredReads(t *testing.T) {
	ctx := context.Background()
	r, err := replica.Open(filepath.Join(t.TempDir(), "s.db"), &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": {Size: 2, Distance: shoalv1.Distance_DISTANCE_DOT}}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewServer(New(oneReplica{r, node.ErrNotFound}, direct{oneReplica{r, node.ErrNotFound}}, zerolog.Nop()).Handler())
	defer srv.Close()
	c := shoalv1connect.NewStorageServiceClient(http.DefaultClient, srv.URL)
	ref := &shoalv1.ShardRef{Uid: "u"}
	id := func(n uint64) *shoalv1.PointID { return &shoalv1.PointID{Kind: &shoalv1.PointID_Num{Num: n}} }
	update := func(op *shoalv1.Operation) error {
		_, err := c.Update(ctx, connect.NewRequest(&shoalv1.UpdateRequest{Shard: ref, Op: op, Wait: true}))
		return err
	}
	mustUpdate := func(op *shoalv1.Operation) {
		t.Helper()
		if err := update(op); err != nil {
			t.Fatal(err)
		}
	}
	var points []*shoalv1.Point
	for i := range 6 {
		points = append(points, &shoalv1.Point{Id: id(uint64(i)), Vectors: map[string]*shoalv1.Vector{"": {Data: []float32{float32(i), 1}}},
			Payload: []byte(fmt.Sprintf(`{"city":%q,"n":%d}`, []string{"Oslo", "Rome"}[i%2], i))})
	}
	mustUpdate(&shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{Points: points}}})
	mustUpdate(&shoalv1.Operation{Kind: &shoalv1.Operation_CreateFieldIndex{CreateFieldIndex: &shoalv1.CreateFieldIndex{Field: "n", SchemaJson: []byte(`"integer"`)}}})
	mustUpdate(&shoalv1.Operation{Kind: &shoalv1.Operation_SetPayload{SetPayload: &shoalv1.SetPayload{
		Selector: &shoalv1.PointSelector{Filter: []byte(`{"must":{"key":"n","range":{"gte":4}}}`)}, Payload: []byte(`{"big":true}`)}}})
	mustUpdate(&shoalv1.Operation{Kind: &shoalv1.Operation_Delete{Delete: &shoalv1.DeletePoints{Filter: []byte(`{"must":{"key":"n","match":{"value":0}}}`)}}})

	cnt, err := c.Count(ctx, connect.NewRequest(&shoalv1.CountRequest{Shard: ref, Filter: []byte(`{"must":{"key":"city","match":{"value":"Oslo"}}}`)}))
	if err != nil || cnt.Msg.Count != 2 {
		t.Fatalf("count Oslo: %v %v", cnt, err)
	}
	sr, err := c.Search(ctx, connect.NewRequest(&shoalv1.SearchRequest{Shard: ref, Vector: &shoalv1.Vector{Data: []float32{1, 0}}, Limit: 3,
		Filter: []byte(`{"must":{"key":"big","match":{"value":true}}}`), WithPayload: true}))
	if err != nil || len(sr.Msg.Points) != 2 || sr.Msg.Points[0].Point.Id.GetNum() != 5 {
		t.Fatalf("search big: %v %v", sr, err)
	}
	sc, err := c.Scroll(ctx, connect.NewRequest(&shoalv1.ScrollRequest{Shard: ref, Limit: 2, OrderBy: &shoalv1.OrderBy{Key: "n", Descending: true}}))
	if err != nil || len(sc.Msg.Points) != 2 || sc.Msg.Points[0].Id.GetNum() != 5 || sc.Msg.OrderValues[1] != 4 {
		t.Fatalf("scroll order_by: %v %v", sc, err)
	}
	info, err := c.Info(ctx, connect.NewRequest(&shoalv1.InfoRequest{Shard: ref}))
	if err != nil || info.Msg.Points != 5 || string(info.Msg.PayloadSchemaJson) != `{"n":{"data_type":"integer","points":5}}` {
		t.Fatalf("info: %v %v", info, err)
	}

	// Errors: a bad filter, a missing point (NotFound marked as such), a
	// missing op, an order_by without a range index.
	f := func(err error, code connect.Code, kind string) {
		t.Helper()
		var ce *connect.Error
		if connect.CodeOf(err) != code || !errors.As(err, &ce) || ce.Meta().Get(ErrorKindHeader) != kind {
			t.Fatalf("got %v, want %v with kind %q", err, code, kind)
		}
	}
	_, err = c.Count(ctx, connect.NewRequest(&shoalv1.CountRequest{Shard: ref, Filter: []byte(`{"must":{"key":"n","match":{"value":1.5}}}`)}))
	f(err, connect.CodeInvalidArgument, "")
	err = update(&shoalv1.Operation{Kind: &shoalv1.Operation_SetPayload{SetPayload: &shoalv1.SetPayload{
		Selector: &shoalv1.PointSelector{Ids: []*shoalv1.PointID{id(1), id(0)}}, Payload: []byte(`{}`)}}})
	f(err, connect.CodeNotFound, PointNotFound)
	if !strings.Contains(err.Error(), "No point with id 0 found") {
		t.Fatalf("not found message: %v", err)
	}
	f(update(nil), connect.CodeInvalidArgument, "")
	_, err = c.Scroll(ctx, connect.NewRequest(&shoalv1.ScrollRequest{Shard: ref, Limit: 2, OrderBy: &shoalv1.OrderBy{Key: "city"}}))
	f(err, connect.CodeInvalidArgument, "")
	_, err = c.Info(ctx, connect.NewRequest(&shoalv1.InfoRequest{Shard: &shoalv1.ShardRef{Uid: "x"}}))
	f(err, connect.CodeNotFound, "")
}
