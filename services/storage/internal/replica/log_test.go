package replica

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
)

// replCfg has a Cosine vector (normalised on write: a follower must keep
// the primary's bits) and a Euclid one.
func replCfg() *shoalv1.CollectionConfig {
	return &shoalv1.CollectionConfig{Named: true, Vectors: map[string]*shoalv1.VectorParams{
		"a": {Size: 3, Distance: shoalv1.Distance_DISTANCE_COSINE},
		"b": {Size: 2, Distance: shoalv1.Distance_DISTANCE_EUCLID},
	}}
}

// randomOp returns an operation of every kind the log can hold, over ids
// 1..40, some naming points that do not exist (the primary refuses those
// by id; filters and deletes never fail).
func randomOp(rng *rand.Rand) *shoalv1.Operation {
	id := func() uint64 { return 1 + rng.Uint64N(40) }
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	switch k := rng.IntN(20); {
	case k < 8:
		var pts []*shoalv1.Point
		for range 1 + rng.IntN(4) {
			vecs := map[string][]float32{"a": vec(3)}
			if rng.IntN(2) == 0 {
				vecs["b"] = vec(2)
			}
			pts = append(pts, point(id(), fmt.Sprintf(`{"n":%d,"tag":"t%d","z":{"y":1,"x":2}}`, rng.IntN(100), rng.IntN(4)), vecs))
		}
		return upsertOp(pts...)
	case k < 10:
		return setPayloadOp(sel(id(), id()), fmt.Sprintf(`{"m":%d}`, rng.IntN(9)), "")
	case k < 11:
		return setPayloadOp(byFilter(fmt.Sprintf(`{"must":[{"key":"tag","match":{"value":"t%d"}}]}`, rng.IntN(4))), `{"hit":true}`, "")
	case k < 12:
		return overwritePayloadOp(sel(id()), `{"o":1}`, "")
	case k < 13:
		return deletePayloadOp(sel(id()), "n")
	case k < 14:
		return clearPayloadOp(sel(id()))
	case k < 15:
		return updateVectorsOp(pv(id(), map[string][]float32{"a": vec(3)}))
	case k < 16:
		return deleteVectorsOp(sel(id()), "b")
	case k < 17:
		return deleteOp(pointid.Num(id()), pointid.Num(id()))
	case k < 18:
		return deleteByFilterOp(fmt.Sprintf(`{"must":[{"key":"n","range":{"gte":%d,"lt":%d}}]}`, rng.IntN(100), rng.IntN(100)))
	case k < 19:
		return createIndexOp("tag", `"keyword"`)
	default:
		return deleteIndexOp("tag")
	}
}

// workload applies n random operations to r (refused ones are skipped).
func workload(t *testing.T, r *Replica, rng *rand.Rand, n int) {
	t.Helper()
	for range n {
		if _, err := r.Apply(context.Background(), randomOp(rng), false); err != nil && !IsNotFound(err) {
			t.Fatal(err)
		}
	}
}

// ship feeds follower from leader's log, in batches of up to max records,
// until it holds everything, and returns the follower's position.
func ship(t *testing.T, leader, follower *Replica, max int) LogResult {
	t.Helper()
	ctx := context.Background()
	for {
		_, after := follower.LastApplied()
		_, end := leader.LastApplied()
		if after == end {
			term, seq := follower.LastApplied()
			return LogResult{Accepted: true, LastTerm: term, LastSeq: seq}
		}
		prevTerm, entries, err := leader.ReadLog(ctx, after, max, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		res, err := follower.ApplyLog(ctx, leader.Term(), prevTerm, after, entries)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Accepted || res.LastSeq != entries[len(entries)-1].GetSeq() {
			t.Fatalf("batch after %d refused or short: %+v", after, res)
		}
	}
}

func mustDigest(t *testing.T, r *Replica) Digest {
	t.Helper()
	d, err := r.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// searchIDs runs a filtered search and returns the hit ids with scores.
func searchIDs(t *testing.T, r *Replica, q []float32, flt string) []string {
	t.Helper()
	req := &shoalv1.SearchRequest{Using: "a", Vector: &shoalv1.Vector{Data: q}, Limit: 50}
	if flt != "" {
		req.Filter = []byte(flt)
	}
	hits, err := r.Search(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = fmt.Sprintf("%s:%.5f", pointid.String(h.GetPoint().GetId()), h.GetScore())
	}
	return out
}

func TestFollowerReachesLeaderDigest(t *testing.T) {
	ctx := context.Background()
	leader, _ := openTest(t, replCfg(), Options{})
	follower, fpath := openTest(t, replCfg(), Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	leader.SetTerm(1)
	workload(t, leader, rng, 100)
	ship(t, leader, follower, 7)
	// Records of term 1 are shipped by the primary at term 2 below: they
	// keep their term.
	workload(t, leader, rng, 50)
	leader.SetTerm(2)
	// Concurrent writers: the leader batches them; the log stays ordered.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(uint64(w), 9))
			for range 50 {
				if _, err := leader.Apply(ctx, randomOp(wr), false); err != nil && !IsNotFound(err) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	workload(t, leader, rng, 50)
	ship(t, leader, follower, 13)

	ld, fd := mustDigest(t, leader), mustDigest(t, follower)
	if ld != fd {
		t.Fatalf("digests differ: leader %+v, follower %+v", ld, fd)
	}
	if ld.LastTerm != 2 || ld.Points == 0 {
		t.Fatalf("leader digest %+v: want last term 2 and points", ld)
	}
	if mustCount(t, leader) != mustCount(t, follower) {
		t.Fatal("counts differ")
	}
	// Every record keeps the leader's term.
	_, last := leader.LastApplied()
	for seq := uint64(1); seq <= last; seq++ {
		lt, lok, err := leader.TermAt(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ft, fok, err := follower.TermAt(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if !lok || !fok || lt != ft {
			t.Fatalf("seq %d: leader term %d (%v), follower %d (%v)", seq, lt, lok, ft, fok)
		}
	}
	q := []float32{0.3, -0.2, 0.9}
	for _, flt := range []string{"", `{"must":[{"key":"tag","match":{"value":"t1"}}]}`} {
		if l, f := searchIDs(t, leader, q, flt), searchIDs(t, follower, q, flt); !slices.Equal(l, f) {
			t.Fatalf("search %q: leader %v, follower %v", flt, l, f)
		}
	}
	// The follower's copy survives a reopen and keeps following.
	if err := follower.Close(); err != nil {
		t.Fatal(err)
	}
	follower, err := OpenWithOptions(fpath, replCfg(), zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follower.Close() })
	if got := mustDigest(t, follower); got != ld {
		t.Fatalf("digest after reopen %+v, want %+v", got, ld)
	}
	follower.SetTerm(2)
	workload(t, leader, rng, 30)
	ship(t, leader, follower, 5)
	if ld, fd := mustDigest(t, leader), mustDigest(t, follower); ld != fd {
		t.Fatalf("after reopen: leader %+v, follower %+v", ld, fd)
	}
}

// logOf returns the leader's records after seq after.
func logOf(t *testing.T, r *Replica, after uint64) (uint64, []*shoalv1.LogEntry) {
	t.Helper()
	prev, entries, err := r.ReadLog(context.Background(), after, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	return prev, entries
}

func TestApplyLogPositions(t *testing.T) {
	ctx := context.Background()
	leader, _ := openTest(t, replCfg(), Options{})
	leader.SetTerm(3)
	for i := range 8 {
		mustApply(t, leader, upsertOp(point(uint64(i+1), `{"i":1}`, map[string][]float32{"a": {1, float32(i), 0}})))
	}
	_, all := logOf(t, leader, 0)
	if len(all) != 8 {
		t.Fatalf("%d records", len(all))
	}
	follower, _ := openTest(t, replCfg(), Options{})
	apply := func(term, prevTerm, prevSeq uint64, entries []*shoalv1.LogEntry) LogResult {
		t.Helper()
		res, err := follower.ApplyLog(ctx, term, prevTerm, prevSeq, entries)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	want := func(res LogResult, accepted bool, seq uint64) {
		t.Helper()
		if res.Accepted != accepted || res.LastSeq != seq {
			t.Fatalf("got %+v, want accepted %v at seq %d", res, accepted, seq)
		}
		if term, last := follower.LastApplied(); last != seq || res.LastTerm != term {
			t.Fatalf("replica at (%d, %d), result %+v", term, last, res)
		}
	}
	// A gap: the follower holds nothing, the batch starts after seq 2.
	want(apply(3, 3, 2, all[2:5]), false, 0)
	want(apply(3, 0, 0, all[:5]), true, 5)
	if follower.Term() != 3 {
		t.Fatalf("term %d, want 3", follower.Term())
	}
	// Overlap: records 3..8, of which 3..5 are held.
	want(apply(3, 3, 2, all[2:]), true, 8)
	// Resending held records only (no entry at the last seq) is refused.
	want(apply(3, 3, 1, all[1:4]), false, 8)
	// An empty batch at the follower's position is a heartbeat.
	want(apply(3, 3, 8, nil), true, 8)
	// A diverged log: same seq, another term.
	want(apply(4, 2, 8, nil), false, 8)
	if follower.Term() != 4 {
		t.Fatalf("term %d, want 4 after a newer primary's batch", follower.Term())
	}
	// An overlapping batch whose entry at the last seq has another term.
	forged := []*shoalv1.LogEntry{{Term: 4, Seq: 8, Op: all[7].GetOp()}, {Term: 4, Seq: 9, Op: all[7].GetOp()}}
	want(apply(4, 3, 7, forged), false, 8)
	// A stale primary is refused and nothing is applied.
	next := []*shoalv1.LogEntry{{Term: 3, Seq: 9, Op: all[0].GetOp()}}
	before := mustDigest(t, follower)
	want(apply(3, 3, 8, next), false, 8)
	if got := mustDigest(t, follower); got != before {
		t.Fatalf("stale batch changed the digest: %+v -> %+v", before, got)
	}
	// A malformed batch is an error.
	if _, err := follower.ApplyLog(ctx, 4, 3, 8, []*shoalv1.LogEntry{{Term: 4, Seq: 10, Op: all[0].GetOp()}}); err == nil {
		t.Fatal("non-contiguous batch accepted")
	}
	if _, err := follower.ApplyLog(ctx, 4, 3, 8, []*shoalv1.LogEntry{{Term: 5, Seq: 9, Op: all[0].GetOp()}}); err == nil {
		t.Fatal("entry with a term above the primary's accepted")
	}
	if ld, fd := mustDigest(t, leader), mustDigest(t, follower); ld != fd {
		t.Fatalf("leader %+v, follower %+v", ld, fd)
	}
}

func entryOf(t *testing.T, term, seq uint64, op *shoalv1.Operation) *shoalv1.LogEntry {
	t.Helper()
	b, err := wal.EncodeOp(op)
	if err != nil {
		t.Fatal(err)
	}
	return &shoalv1.LogEntry{Term: term, Seq: seq, Op: b}
}

// TestReplicatedOpOnMissingPoints: a follower applies what it can of an
// op naming points it lacks, where a primary would refuse the op.
func TestReplicatedOpOnMissingPoints(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, replCfg(), Options{})
	entries := []*shoalv1.LogEntry{
		entryOf(t, 1, 1, upsertOp(point(1, `{"k":1}`, map[string][]float32{"a": {1, 0, 0}, "b": {1, 1}}))),
		entryOf(t, 1, 2, setPayloadOp(sel(1, 9), `{"s":2}`, "")),
		entryOf(t, 1, 3, updateVectorsOp(pv(9, map[string][]float32{"a": {0, 1, 0}}), pv(1, map[string][]float32{"a": {0, 0, 2}}))),
		entryOf(t, 1, 4, deleteVectorsOp(sel(9, 1), "b")),
		entryOf(t, 1, 5, overwritePayloadOp(sel(8), `{"o":1}`, "")),
		entryOf(t, 1, 6, deletePayloadOp(sel(7), "k")),
		entryOf(t, 1, 7, clearPayloadOp(sel(6))),
	}
	res, err := r.ApplyLog(ctx, 1, 0, 0, entries)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Accepted || res.LastSeq != 7 || res.LastTerm != 1 {
		t.Fatalf("result %+v", res)
	}
	pts, err := r.Get(ctx, []*shoalv1.PointID{pointid.Num(1), pointid.Num(9)}, true, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1 {
		t.Fatalf("%d points, want only point 1", len(pts))
	}
	p := pts[0]
	if !sameJSON(p.GetPayload(), []byte(`{"k":1,"s":2}`)) || p.GetVersion() != 4 {
		t.Fatalf("point 1: payload %s version %d", p.GetPayload(), p.GetVersion())
	}
	if _, ok := p.GetVectors()["b"]; ok || !slices.Equal(p.GetVectors()["a"].GetData(), []float32{0, 0, 2}) {
		t.Fatalf("point 1 vectors %v (a is kept as logged, b deleted)", p.GetVectors())
	}
	// The same op from a client is refused.
	if _, err := r.Apply(ctx, setPayloadOp(sel(1, 9), `{"s":3}`, ""), true); !IsNotFound(err) {
		t.Fatalf("client op on a missing point: %v", err)
	}
	// An entry that does not validate is an error, not a skip.
	bad := entryOf(t, 1, 8, upsertOp(point(2, "", map[string][]float32{"a": {1, 2}})))
	if _, err := r.ApplyLog(ctx, 1, 1, 7, []*shoalv1.LogEntry{bad}); err == nil || !IsInvalid(err) {
		t.Fatalf("invalid replicated entry: %v", err)
	}
	if _, seq := r.LastApplied(); seq != 7 {
		t.Fatalf("invalid entry moved the position to %d", seq)
	}
}

func TestReadLogRetention(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, replCfg(), Options{WALRetention: 5})
	r.SetTerm(2)
	for i := range 12 {
		if i == 9 {
			r.SetTerm(3)
		}
		mustApply(t, r, upsertOp(point(uint64(i+1), "", map[string][]float32{"a": {1, 2, 3}})))
	}
	// Retained: 8..12.
	for _, after := range []uint64{0, 3, 6} {
		if _, _, err := r.ReadLog(ctx, after, 10, 0); !errors.Is(err, ErrCompacted) {
			t.Fatalf("ReadLog(%d): %v, want ErrCompacted", after, err)
		}
	}
	prev, entries, err := r.ReadLog(ctx, 8, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if prev != 2 || len(entries) != 4 || entries[0].GetSeq() != 9 || entries[0].GetTerm() != 2 || entries[1].GetTerm() != 3 {
		t.Fatalf("ReadLog(8): prev %d, %v", prev, entries)
	}
	if _, entries, _ := r.ReadLog(ctx, 8, 2, 0); len(entries) != 2 {
		t.Fatalf("max 2 gave %d records", len(entries))
	}
	if _, entries, _ := r.ReadLog(ctx, 8, 10, 1); len(entries) != 1 {
		t.Fatalf("maxBytes 1 gave %d records, want 1", len(entries))
	}
	if prev, entries, err := r.ReadLog(ctx, 12, 10, 0); err != nil || prev != 3 || len(entries) != 0 {
		t.Fatalf("ReadLog(12): %d %v %v", prev, entries, err)
	}
	if _, _, err := r.ReadLog(ctx, 13, 10, 0); !errors.Is(err, ErrBeyondEnd) {
		t.Fatalf("ReadLog(13): %v, want ErrBeyondEnd", err)
	}
	for seq, want := range map[uint64]struct {
		term uint64
		ok   bool
	}{0: {0, true}, 7: {0, false}, 8: {2, true}, 10: {3, true}, 12: {3, true}, 13: {0, false}} {
		term, ok, err := r.TermAt(ctx, seq)
		if err != nil || term != want.term || ok != want.ok {
			t.Fatalf("TermAt(%d) = %d %v %v, want %d %v", seq, term, ok, err, want.term, want.ok)
		}
	}
}

func TestAppended(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, replCfg(), Options{})
	ch := r.Appended()
	if r.Appended() != ch {
		t.Fatal("Appended changed without a write")
	}
	select {
	case <-ch:
		t.Fatal("closed before any write")
	default:
	}
	mustApply(t, r, upsertOp(point(1, "", map[string][]float32{"a": {1, 2, 3}})))
	select {
	case <-ch:
	default:
		t.Fatal("not closed after a write")
	}
	ch = r.Appended()
	// A refused op does not advance the log.
	if _, err := r.Apply(ctx, setPayloadOp(sel(5), `{"a":1}`, ""), true); !IsNotFound(err) {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("closed by a refused op")
	default:
	}
	// Replicated entries advance it too.
	other, _ := openTest(t, replCfg(), Options{})
	och := other.Appended()
	if res, err := other.ApplyLog(ctx, 1, 0, 0, logOfAll(t, r)); err != nil || !res.Accepted {
		t.Fatal(res, err)
	}
	select {
	case <-och:
	default:
		t.Fatal("not closed after ApplyLog")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	<-ch // closing wakes waiters
	<-r.Appended()
}

func logOfAll(t *testing.T, r *Replica) []*shoalv1.LogEntry {
	t.Helper()
	_, entries := logOf(t, r, 0)
	return entries
}

// TestShipperOnAppended ships the log the way a primary does: a goroutine
// waits on Appended, reads the log and applies it to the follower, while
// writers write and readers search the follower.
func TestShipperOnAppended(t *testing.T) {
	ctx := context.Background()
	leader, _ := openTest(t, replCfg(), Options{})
	follower, _ := openTest(t, replCfg(), Options{})
	leader.SetTerm(1)
	stop := make(chan struct{})
	shipperDone := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // the shipper
		defer bg.Done()
		defer close(shipperDone)
		for {
			wake := leader.Appended()
			_, after := follower.LastApplied()
			prev, entries, err := leader.ReadLog(ctx, after, 16, 4096)
			if err != nil {
				t.Error(err)
				return
			}
			if len(entries) > 0 {
				res, err := follower.ApplyLog(ctx, leader.Term(), prev, after, entries)
				if err != nil || !res.Accepted {
					t.Error(res, err)
					return
				}
				continue
			}
			select {
			case <-wake:
			case <-stop:
				return
			}
		}
	}()
	go func() { // a reader of the follower
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			searchIDs(t, follower, []float32{1, 0, 0}, `{"must":[{"key":"tag","match":{"value":"t1"}}]}`)
		}
	}()
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(uint64(w), 77))
			for range 60 {
				if _, err := leader.Apply(ctx, randomOp(wr), false); err != nil && !IsNotFound(err) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	_, end := leader.LastApplied()
wait:
	for {
		wake := follower.Appended()
		if _, seq := follower.LastApplied(); seq == end {
			break
		}
		select {
		case <-wake:
		case <-shipperDone: // it failed
			break wait
		}
	}
	close(stop)
	bg.Wait()
	if ld, fd := mustDigest(t, leader), mustDigest(t, follower); ld != fd {
		t.Fatalf("leader %+v, follower %+v", ld, fd)
	}
}
