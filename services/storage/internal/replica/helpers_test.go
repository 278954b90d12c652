package replica

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func single(size uint64, d shoalv1.Distance) *shoalv1.CollectionConfig {
	return &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": {Size: size, Distance: d}}}
}

func openTest(t testing.TB, cfg *shoalv1.CollectionConfig, opts Options) (*Replica, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shard-0.db")
	r, err := OpenWithOptions(path, cfg, zerolog.Nop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, path
}

func point(id uint64, payload string, vecs map[string][]float32) *shoalv1.Point {
	return pointWithID(pointid.Num(id), payload, vecs)
}

func pointWithID(id *shoalv1.PointID, payload string, vecs map[string][]float32) *shoalv1.Point {
	p := &shoalv1.Point{Id: id, Vectors: map[string]*shoalv1.Vector{}}
	if payload != "" {
		p.Payload = []byte(payload)
	}
	for n, v := range vecs {
		p.Vectors[n] = &shoalv1.Vector{Data: v}
	}
	return p
}

func upsertOp(points ...*shoalv1.Point) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{Points: points}}}
}

func deleteOp(ids ...*shoalv1.PointID) *shoalv1.Operation {
	return &shoalv1.Operation{Kind: &shoalv1.Operation_Delete{Delete: &shoalv1.DeletePoints{Ids: ids}}}
}

func mustApply(t *testing.T, r *Replica, op *shoalv1.Operation) uint64 {
	t.Helper()
	seq, err := r.Apply(context.Background(), op, true)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func ids(points []*shoalv1.Point) []string {
	out := make([]string, len(points))
	for i, p := range points {
		out[i] = pointid.String(p.GetId())
	}
	return out
}

func mustCount(t *testing.T, r *Replica) uint64 {
	t.Helper()
	n, err := r.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sameJSON compares JSON documents by value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

var all = &shoalv1.WithVector{All: true}

// scroll runs a scroll and splits its answer.
func scroll(t *testing.T, r *Replica, req *shoalv1.ScrollRequest) ([]*shoalv1.Point, *shoalv1.PointID, error) {
	t.Helper()
	resp, err := r.Scroll(context.Background(), req)
	if err != nil {
		return nil, nil, err
	}
	return resp.GetPoints(), resp.GetNextOffset(), nil
}
