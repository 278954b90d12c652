package replica

import (
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// TestDigestDetectsDifferences: replicas that applied the same operations
// have equal digests; a different payload, vector, vector name, version,
// id or a missing point changes the sum.
func TestDigestDetectsDifferences(t *testing.T) {
	ops := []*shoalv1.Operation{
		upsertOp(
			point(1, `{"a":1,"b":{"c":[1,2]}}`, map[string][]float32{"a": {1, 2, 3}, "b": {1, 1}}),
			point(2, `{"x":"y"}`, map[string][]float32{"a": {3, 2, 1}}),
			point(3, "", map[string][]float32{"b": {0, 1}}),
		),
		setPayloadOp(sel(2), `{"z":1}`, ""),
	}
	dir := t.TempDir()
	open := func(name string) *Replica {
		r, err := OpenWithOptions(filepath.Join(dir, name), replCfg(), zerolog.Nop(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		for _, op := range ops {
			mustApply(t, r, op)
		}
		return r
	}
	base := mustDigest(t, open("base"))
	if again := mustDigest(t, open("again")); again != base {
		t.Fatalf("same ops, different digests: %+v, %+v", base, again)
	}
	if base.Points != 3 || base.LastSeq != 2 {
		t.Fatalf("digest %+v", base)
	}
	changes := map[string]*shoalv1.Operation{
		"payload": setPayloadOp(sel(1), `{"a":2}`, ""),
		"vector":  updateVectorsOp(pv(2, map[string][]float32{"a": {3, 2, 1.5}})),
		"vectors": deleteVectorsOp(sel(1), "b"),
		"missing": deleteOp(pointid.Num(3)),
	}
	for name, op := range changes {
		r := open(name)
		before := mustDigest(t, r)
		mustApply(t, r, op)
		d := mustDigest(t, r)
		if d.Sum == before.Sum {
			t.Fatalf("%s: sum unchanged", name)
		}
	}
	// The sum alone tells these apart (the position aside): compare point
	// records that differ in one part only.
	rec := func(p *shoalv1.Point) uint64 {
		t.Helper()
		b, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		h, err := pointHash([]byte(pointid.Key(p.GetId())), b)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	p := point(1, `{"a":1,"b":2}`, map[string][]float32{"a": {1, 2, 3}, "b": {1, 1}})
	p.Version = 5
	h := rec(p)
	same := point(1, `{"b":2, "a":1}`, map[string][]float32{"b": {1, 1}, "a": {1, 2, 3}})
	same.Version = 5
	if rec(same) != h {
		t.Fatal("key order or spacing of the payload changed the hash")
	}
	for name, edit := range map[string]func(*shoalv1.Point){
		"version": func(p *shoalv1.Point) { p.Version = 6 },
		"id":      func(p *shoalv1.Point) { p.Id = pointid.Num(2) },
		"payload": func(p *shoalv1.Point) { p.Payload = []byte(`{"a":1,"b":3}`) },
		"vector":  func(p *shoalv1.Point) { p.Vectors["b"] = &shoalv1.Vector{Data: []float32{1, 2}} },
		"name":    func(p *shoalv1.Point) { p.Vectors["c"] = p.Vectors["b"]; delete(p.Vectors, "b") },
	} {
		q := point(1, `{"a":1,"b":2}`, map[string][]float32{"a": {1, 2, 3}, "b": {1, 1}})
		q.Version = 5
		edit(q)
		if rec(q) == h {
			t.Fatalf("%s: hash unchanged", name)
		}
	}
}
