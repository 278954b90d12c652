package grpcapi_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/shoaldb/shoal/services/router/internal/apikey"
	"google.golang.org/grpc/codes"
)

// TestConditionalUpserts: update_filter and update_mode of Upsert,
// UpdateVectors and UpdateBatch reach the storage nodes, which write only
// the points the conditions allow.
func TestConditionalUpserts(t *testing.T) {
	cl, _, _ := serve(t, apikey.Keys{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cl.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "c", ShardNumber: qdrant.PtrOf(uint32(3)),
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 1, Distance: qdrant.Distance_Dot}),
	})
	if err != nil {
		t.Fatal(err)
	}
	points := func(gen string, ids ...uint64) []*qdrant.PointStruct {
		var out []*qdrant.PointStruct
		for _, id := range ids {
			out = append(out, &qdrant.PointStruct{
				Id: qdrant.NewIDNum(id), Vectors: qdrant.NewVectors(1),
				Payload: qdrant.NewValueMap(map[string]any{"gen": gen, "odd": id%2 == 1}),
			})
		}
		return out
	}
	// gens returns the "gen" payload of points 1..8 ("" when missing).
	gens := func() []string {
		t.Helper()
		var ids []*qdrant.PointId
		for id := uint64(1); id <= 8; id++ {
			ids = append(ids, qdrant.NewIDNum(id))
		}
		got, err := cl.Get(ctx, &qdrant.GetPoints{CollectionName: "c", Ids: ids})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, 8)
		for _, p := range got {
			out[p.GetId().GetNum()-1] = p.GetPayload()["gen"].GetStringValue()
		}
		return out
	}
	odd := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchBool("odd", true)}}
	wait := qdrant.PtrOf(true)
	if _, err := cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: wait, Points: points("a", 1, 2, 3, 4)}); err != nil {
		t.Fatal(err)
	}
	// Existing points are replaced only when odd; new ones are inserted.
	if _, err := cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: wait, Points: points("b", 1, 2, 5, 6), UpdateFilter: odd}); err != nil {
		t.Fatal(err)
	}
	if got, want := gens(), []string{"b", "a", "a", "a", "b", "b", "", ""}; !slices.Equal(got, want) {
		t.Fatalf("after update_filter: %q, want %q", got, want)
	}
	if _, err := cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: wait, Points: points("c", 2, 3, 7), UpdateMode: qdrant.UpdateMode_InsertOnly.Enum()}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Wait: wait, Points: points("d", 4, 8), UpdateMode: qdrant.UpdateMode_UpdateOnly.Enum()}); err != nil {
		t.Fatal(err)
	}
	if got, want := gens(), []string{"b", "a", "a", "d", "b", "b", "c", ""}; !slices.Equal(got, want) {
		t.Fatalf("after insert_only and update_only: %q, want %q", got, want)
	}
	// The same conditions in a batch.
	_, err = cl.UpdateBatch(ctx, &qdrant.UpdateBatchPoints{CollectionName: "c", Wait: wait, Operations: []*qdrant.PointsUpdateOperation{
		{Operation: &qdrant.PointsUpdateOperation_Upsert{Upsert: &qdrant.PointsUpdateOperation_PointStructList{
			Points: points("e", 1, 2, 8), UpdateFilter: odd, UpdateMode: qdrant.UpdateMode_UpdateOnly.Enum(),
		}}},
		{Operation: &qdrant.PointsUpdateOperation_UpdateVectors_{UpdateVectors: &qdrant.PointsUpdateOperation_UpdateVectors{
			Points: []*qdrant.PointVectors{
				{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(5)},
				{Id: qdrant.NewIDNum(2), Vectors: qdrant.NewVectors(5)},
			},
			UpdateFilter: odd,
		}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := gens(), []string{"e", "a", "a", "d", "b", "b", "c", ""}; !slices.Equal(got, want) {
		t.Fatalf("after the batch: %q, want %q", got, want)
	}
	_, err = cl.UpdateVectors(ctx, &qdrant.UpdatePointVectors{CollectionName: "c", Wait: wait, Points: []*qdrant.PointVectors{
		{Id: qdrant.NewIDNum(3), Vectors: qdrant.NewVectors(7)},
		{Id: qdrant.NewIDNum(4), Vectors: qdrant.NewVectors(7)},
	}, UpdateFilter: odd})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.Get(ctx, &qdrant.GetPoints{CollectionName: "c", WithVectors: qdrant.NewWithVectors(true),
		Ids: []*qdrant.PointId{qdrant.NewIDNum(1), qdrant.NewIDNum(2), qdrant.NewIDNum(3), qdrant.NewIDNum(4)}})
	if err != nil {
		t.Fatal(err)
	}
	vecs := map[uint64]float32{}
	for _, p := range got {
		vecs[p.GetId().GetNum()] = p.GetVectors().GetVector().GetDense().GetData()[0]
	}
	if want := map[uint64]float32{1: 5, 2: 1, 3: 7, 4: 1}; !mapsEqual(vecs, want) {
		t.Fatalf("vectors %v, want %v", vecs, want)
	}
	// An unknown mode is a client error.
	_, err = cl.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Points: points("x", 1), UpdateMode: qdrant.UpdateMode(9).Enum()})
	if code(err) != codes.InvalidArgument {
		t.Fatalf("unknown update mode: %v", err)
	}
}

func mapsEqual(a, b map[uint64]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
