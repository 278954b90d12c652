package replica

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
)

// refPoint is a stored point as the reference evaluation sees it.
type refPoint struct {
	key     string
	payload map[string]any
	vectors map[string][]float32
}

func (p refPoint) Key() string                { return p.key }
func (p refPoint) Payload() map[string]any    { return p.payload }
func (p refPoint) HasVector(name string) bool { _, ok := p.vectors[name]; return ok }

// allPoints reads every point of r through Scroll.
func allPoints(t *testing.T, r *Replica) []refPoint {
	t.Helper()
	resp, err := r.Scroll(context.Background(), &shoalv1.ScrollRequest{Limit: 1 << 30, WithPayload: true, WithVector: all})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]refPoint, 0, len(resp.Points))
	for _, p := range resp.Points {
		rp := refPoint{key: string(pointid.Key(p.Id)), vectors: map[string][]float32{}}
		var err error
		if rp.payload, err = filter.DecodePayload(p.Payload); err != nil {
			t.Fatal(err)
		}
		for n, v := range p.Vectors {
			rp.vectors[n] = v.Data
		}
		out = append(out, rp)
	}
	return out
}

var cities = []string{"Oslo", "Rome", "Lima", "Kyiv", "Pune"}

func randomRecord(r *rand.Rand) string {
	var parts []string
	if r.IntN(10) > 0 {
		if r.IntN(4) == 0 {
			parts = append(parts, fmt.Sprintf(`"city":[%q,%q]`, cities[r.IntN(5)], cities[r.IntN(5)]))
		} else {
			parts = append(parts, fmt.Sprintf(`"city":%q`, cities[r.IntN(5)]))
		}
	}
	if r.IntN(10) > 0 {
		if r.IntN(5) == 0 {
			parts = append(parts, fmt.Sprintf(`"price":%.1f`, r.Float64()*100))
		} else {
			parts = append(parts, fmt.Sprintf(`"price":%d`, r.IntN(100)))
		}
	}
	if r.IntN(3) > 0 {
		parts = append(parts, fmt.Sprintf(`"ok":%v`, r.IntN(2) == 0))
	}
	if r.IntN(3) > 0 {
		parts = append(parts, fmt.Sprintf(`"at":"2024-0%d-%02dT12:00:00Z"`, 1+r.IntN(9), 1+r.IntN(28)))
	}
	if r.IntN(3) > 0 {
		parts = append(parts, fmt.Sprintf(`"loc":{"lat":%.3f,"lon":%.3f}`, 40+r.Float64()*10, r.Float64()*10))
	}
	if r.IntN(4) == 0 {
		parts = append(parts, fmt.Sprintf(`"items":[{"k":%q,"n":%d},{"k":%q,"n":%d}]`, cities[r.IntN(5)], r.IntN(5), cities[r.IntN(5)], r.IntN(5)))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func randomCondition(r *rand.Rand) string {
	switch r.IntN(11) {
	case 0, 1:
		return fmt.Sprintf(`{"key":"city","match":{"value":%q}}`, cities[r.IntN(5)])
	case 2:
		return fmt.Sprintf(`{"key":"city","match":{"any":[%q,%q]}}`, cities[r.IntN(5)], cities[r.IntN(5)])
	case 3:
		lo := r.IntN(100)
		return fmt.Sprintf(`{"key":"price","range":{"gte":%d,"lt":%d}}`, lo, lo+1+r.IntN(30))
	case 4:
		return fmt.Sprintf(`{"key":"price","match":{"value":%d}}`, r.IntN(100))
	case 5:
		return fmt.Sprintf(`{"key":"ok","match":{"value":%v}}`, r.IntN(2) == 0)
	case 6:
		return fmt.Sprintf(`{"key":"at","range":{"gte":"2024-0%d-01T00:00:00Z"}}`, 1+r.IntN(9))
	case 7:
		return fmt.Sprintf(`{"key":"loc","geo_radius":{"center":{"lat":%.2f,"lon":%.2f},"radius":%d}}`, 40+r.Float64()*10, r.Float64()*10, 50_000+r.IntN(300_000))
	case 8:
		return fmt.Sprintf(`{"has_id":[%d,%d,%d,%d]}`, r.IntN(400), r.IntN(400), r.IntN(400), r.IntN(400))
	case 9:
		return fmt.Sprintf(`{"nested":{"key":"items","filter":{"must":[{"key":"k","match":{"value":%q}},{"key":"n","range":{"lte":%d}}]}}}`, cities[r.IntN(5)], r.IntN(5))
	default:
		return `{"is_empty":{"key":"city"}}`
	}
}

func randomSearchFilter(r *rand.Rand) string {
	clause := func() string {
		cs := make([]string, 1+r.IntN(2))
		for i := range cs {
			cs[i] = randomCondition(r)
		}
		return "[" + strings.Join(cs, ",") + "]"
	}
	var parts []string
	for _, c := range []string{"must", "should", "must_not"} {
		if r.IntN(2) == 0 || (c == "must" && len(parts) == 0) {
			parts = append(parts, fmt.Sprintf("%q:%s", c, clause()))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// bruteForce ranks the points matching f by score, then key.
func bruteForce(m distance.Metric, points []refPoint, q []float32, k int, f *filter.Filter) []string {
	type hit struct {
		key   string
		score float32
	}
	var hits []hit
	for _, p := range points {
		v, ok := p.vectors[""]
		if !ok || !f.Matches(p) {
			continue
		}
		hits = append(hits, hit{p.key, m.Score(q, v)})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return m.Better(hits[i].score, hits[j].score)
		}
		return hits[i].key < hits[j].key
	})
	var out []string
	for _, h := range hits[:min(k, len(hits))] {
		out = append(out, h.key)
	}
	return out
}

func TestFilteredReadsMatchBruteForce(t *testing.T) {
	ctx := context.Background()
	const dim = 4
	r, _ := openTest(t, single(dim, shoalv1.Distance_DISTANCE_EUCLID), Options{})
	rng := rand.New(rand.NewPCG(5, 8))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.IntN(4)) // few values: ties happen
		}
		return v
	}
	var ups []*shoalv1.Point
	for id := range 400 {
		ups = append(ups, point(uint64(id), randomRecord(rng), map[string][]float32{"": vec()}))
	}
	mustApply(t, r, upsertOp(ups...))
	for field, schema := range map[string]string{"city": `"keyword"`, "price": `"integer"`, "ok": `"bool"`, "at": `"datetime"`, "loc": `"geo"`} {
		mustApply(t, r, createIndexOp(field, schema))
	}
	metric, _ := distance.For(shoalv1.Distance_DISTANCE_EUCLID)
	keysOf := func(ps []*shoalv1.ScoredPoint) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = string(pointid.Key(p.Point.Id))
		}
		return out
	}
	check := func(round int) {
		points := allPoints(t, r)
		indexPaths := 0
		for i := range 60 {
			raw := randomSearchFilter(rng)
			f, err := filter.Parse([]byte(raw))
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			q := vec()
			k := 1 + rng.IntN(15)
			want := bruteForce(metric, points, q, k, f)
			req := &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: q}, Limit: uint32(k), Filter: []byte(raw)}
			for _, mode := range []planMode{planAuto, planCandidates, planTraverse} {
				got, err := r.search(ctx, req, mode)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(keysOf(got), want) {
					t.Fatalf("round %d filter %d %s mode %d:\n got %x\nwant %x", round, i, raw, mode, keysOf(got), want)
				}
			}
			if plan := r.payload.Plan(f); plan.Known {
				indexPaths++
			}
			// Count and scroll (paged) see the same matches.
			var matches []string
			for _, p := range points {
				if f.Matches(p) {
					matches = append(matches, p.key)
				}
			}
			n, err := r.CountFilter(ctx, []byte(raw))
			if err != nil || n != uint64(len(matches)) {
				t.Fatalf("count %s = %d, %v; want %d", raw, n, err, len(matches))
			}
			var scrolled []string
			var offset *shoalv1.PointID
			for {
				page, next, err := scroll(t, r, &shoalv1.ScrollRequest{Offset: offset, Limit: 7, Filter: []byte(raw)})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range page {
					scrolled = append(scrolled, string(pointid.Key(p.Id)))
				}
				if next == nil {
					break
				}
				offset = next
			}
			if !slices.Equal(scrolled, matches) {
				t.Fatalf("scroll %s:\n got %x\nwant %x", raw, scrolled, matches)
			}
		}
		if indexPaths == 0 {
			t.Fatal("no filter was narrowed by the payload indexes")
		}
	}
	check(0)
	// Change payloads through every path, then check again.
	mustApply(t, r, setPayloadOp(byFilter(`{"must":{"key":"city","match":{"value":"Oslo"}}}`), `{"city":"Rome","price":1}`, ""))
	mustApply(t, r, deletePayloadOp(byFilter(`{"must":{"key":"price","range":{"gt":90}}}`), "price"))
	mustApply(t, r, overwritePayloadOp(sel(1, 2, 3), `{"city":"Lima"}`, ""))
	mustApply(t, r, deleteByFilterOp(`{"must":{"key":"ok","match":{"value":true}},"must_not":{"key":"city","match":{"value":"Rome"}}}`))
	mustApply(t, r, deleteIndexOp("ok"))
	check(1)
}

func TestOrderBy(t *testing.T) {
	ctx := context.Background()
	r, _ := openTest(t, single(1, shoalv1.Distance_DISTANCE_DOT), Options{})
	v := map[string][]float32{"": {1}}
	mustApply(t, r, upsertOp(
		point(1, `{"p":5,"t":"2024-01-02T00:00:00Z","c":"a"}`, v),
		point(2, `{"p":[1,9],"t":"2024-01-01T00:00:00Z","c":"b"}`, v),
		point(3, `{"p":5,"c":"a"}`, v),
		point(4, `{"p":"x","t":["2024-01-03T00:00:00Z"],"c":"b"}`, v),
		point(5, `{"p":2.5}`, v),
	))
	mustApply(t, r, createIndexOp("p", `"integer"`))
	mustApply(t, r, createIndexOp("t", `"datetime"`))
	f := func(key string, desc bool, start *float64, limit uint32, flt string, wantIDs []string, wantValues []float64) {
		t.Helper()
		resp, err := r.Scroll(ctx, &shoalv1.ScrollRequest{Limit: limit, Filter: []byte(flt), OrderBy: &shoalv1.OrderBy{Key: key, Descending: desc, StartFrom: start}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(resp.Points), wantIDs) || !slices.Equal(resp.OrderValues, wantValues) || resp.NextOffset != nil {
			t.Fatalf("order_by %s desc=%v start=%v: %v %v", key, desc, start, ids(resp.Points), resp.OrderValues)
		}
	}
	five, jan2 := 5.0, 1704153600.0
	f("p", false, nil, 10, "", []string{"2", "5", "1", "3", "2"}, []float64{1, 2.5, 5, 5, 9})
	f("p", true, nil, 10, "", []string{"2", "3", "1", "5", "2"}, []float64{9, 5, 5, 2.5, 1})
	f("p", false, &five, 2, "", []string{"1", "3"}, []float64{5, 5})
	f("p", true, &five, 10, "", []string{"3", "1", "5", "2"}, []float64{5, 5, 2.5, 1})
	f("p", false, nil, 10, `{"must":{"key":"c","match":{"value":"a"}}}`, []string{"1", "3"}, []float64{5, 5})
	f("t", false, nil, 10, "", []string{"2", "1", "4"}, []float64{1704067200, 1704153600, 1704240000})
	f("t", true, &jan2, 10, "", []string{"1", "2"}, []float64{1704153600, 1704067200})
	f("p", false, nil, 0, "", nil, nil)
}

// TestLogReplayIsDeterministic runs concurrent writers (filter operations
// included), then replays the WAL into a fresh replica: both must hold
// exactly the same points. Filters resolved at apply time, in log order,
// make this hold whatever batches the committer formed.
func TestLogReplayIsDeterministic(t *testing.T) {
	ctx := context.Background()
	cfg := single(2, shoalv1.Distance_DISTANCE_DOT)
	a, _ := openTest(t, cfg, Options{})
	mustApply(t, a, createIndexOp("city", `"keyword"`))
	mustApply(t, a, createIndexOp("n", `"integer"`))
	done := make(chan error)
	for w := range 6 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			var err error
			for i := 0; i < 60 && err == nil; i++ {
				var op *shoalv1.Operation
				switch rng.IntN(6) {
				case 0, 1:
					op = upsertOp(point(uint64(rng.IntN(50)), fmt.Sprintf(`{"city":%q,"n":%d}`, cities[rng.IntN(5)], rng.IntN(10)), map[string][]float32{"": {1, float32(i)}}))
				case 2:
					op = setPayloadOp(byFilter(fmt.Sprintf(`{"must":{"key":"city","match":{"value":%q}}}`, cities[rng.IntN(5)])), fmt.Sprintf(`{"n":%d,"w":%d}`, rng.IntN(10), w), "")
				case 3:
					op = deleteByFilterOp(fmt.Sprintf(`{"must":[{"key":"n","match":{"value":%d}},{"key":"city","match":{"value":%q}}]}`, rng.IntN(10), cities[rng.IntN(5)]))
				case 4:
					op = setPayloadOp(sel(uint64(rng.IntN(50))), fmt.Sprintf(`{"city":%q}`, cities[rng.IntN(5)]), "")
				default:
					op = deletePayloadOp(byFilter(fmt.Sprintf(`{"must":{"key":"n","range":{"gte":%d}}}`, rng.IntN(10))), "w")
				}
				_, err = a.Apply(ctx, op, rng.IntN(2) == 0)
				if IsNotFound(err) {
					err = nil
				}
			}
			done <- err
		}()
	}
	// Readers run meanwhile (payload index reads against writes).
	stop := make(chan struct{})
	readerDone := make(chan error)
	go func() {
		var err error
		for i := 0; err == nil; i++ {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			flt := []byte(fmt.Sprintf(`{"must":{"key":"city","match":{"value":%q}},"should":[{"key":"n","range":{"gte":%d}}]}`, cities[i%5], i%10))
			_, err = a.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{1, 1}}, Limit: 5, Filter: flt})
			if err == nil {
				_, err = a.CountFilter(ctx, flt)
			}
			if err == nil {
				_, err = a.Scroll(ctx, &shoalv1.ScrollRequest{Limit: 5, Filter: flt, OrderBy: &shoalv1.OrderBy{Key: "n", Descending: i%2 == 0}})
			}
		}
		readerDone <- err
	}()
	for range 6 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	b, _ := openTest(t, cfg, Options{})
	var ops []*shoalv1.Operation
	if err := a.ReadWAL(ctx, 1, func(e wal.Entry) error {
		ops = append(ops, e.Op)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, op := range ops {
		if _, err := b.Apply(ctx, op, true); err != nil {
			t.Fatalf("replaying op %d: %v", i+1, err)
		}
	}
	pa, pb := allPoints(t, a), allPoints(t, b)
	if len(pa) != len(pb) {
		t.Fatalf("%d points, replay has %d", len(pa), len(pb))
	}
	for i := range pa {
		ja, _ := filter.EncodePayload(pa[i].payload)
		jb, _ := filter.EncodePayload(pb[i].payload)
		if pa[i].key != pb[i].key || string(ja) != string(jb) || !slices.Equal(pa[i].vectors[""], pb[i].vectors[""]) {
			t.Fatalf("point %x differs after replay: %s vs %s", pa[i].key, ja, jb)
		}
	}
	if a.Stats().Commits >= a.Stats().Ops {
		t.Logf("no batching happened (%d commits for %d ops)", a.Stats().Commits, a.Stats().Ops)
	}
}
