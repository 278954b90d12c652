package payloadindex

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/pkg/pointid"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
)

// textOnly evaluates everything from the payload but with the text
// semantics the indexes give (tokens where a text index exists): the
// reference the index answers are compared with.
type textOnly struct{ s *Set }

func (textOnly) Checker(*filter.FieldCondition) func(string) bool { return nil }
func (t textOnly) Tokenizer(p string) *filter.Tokenizer           { return t.s.Tokenizer(p) }

type point struct {
	key     string
	payload map[string]any
}

func (p point) Key() string                { return p.key }
func (p point) Payload() map[string]any    { return p.payload }
func (p point) HasVector(name string) bool { return name == "" }

var (
	words  = []string{"red", "green", "blue", "Red", "teal"}
	uuids  = []string{"5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "00000000-0000-0000-0000-000000000001", "550E8400-E29B-41D4-A716-446655440000"}
	sample = []string{"a good cheap car", "Cheap, fast boat", "red car", "the blue sky", ""}
)

// randomPayload mixes types on purpose: every field sometimes holds
// values of other types, arrays, nulls, or nothing.
func randomPayload(r *rand.Rand) string {
	var parts []string
	add := func(k, v string) {
		if r.IntN(8) > 0 {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
	}
	scalar := func() string {
		switch r.IntN(9) {
		case 0:
			return fmt.Sprintf("%q", words[r.IntN(len(words))])
		case 1:
			return fmt.Sprint(r.IntN(20) - 5)
		case 2:
			return fmt.Sprintf("%.2f", r.Float64()*20-5)
		case 3:
			return fmt.Sprint(r.IntN(2) == 0)
		case 4:
			return "null"
		case 5:
			return fmt.Sprintf("%q", uuids[r.IntN(len(uuids))])
		case 6:
			return fmt.Sprintf(`"2023-0%d-1%dT1%d:00:00Z"`, 1+r.IntN(9), r.IntN(10), r.IntN(10))
		case 7:
			return fmt.Sprintf(`{"lat":%.4f,"lon":%.4f}`, r.Float64()*20+40, r.Float64()*20)
		default:
			return fmt.Sprintf("%q", sample[r.IntN(len(sample))])
		}
	}
	value := func() string {
		if r.IntN(3) == 0 {
			n := r.IntN(4)
			vs := make([]string, n)
			for i := range vs {
				vs[i] = scalar()
			}
			return "[" + strings.Join(vs, ",") + "]"
		}
		return scalar()
	}
	for _, k := range []string{"kw", "n", "f", "b", "t", "u", "loc", "txt", "other"} {
		add(k, value())
	}
	add("obj", fmt.Sprintf(`{"x":%s,"arr":[{"y":%s},{"y":%s}]}`, value(), value(), value()))
	return "{" + strings.Join(parts, ",") + "}"
}

// randomFilter builds a filter over the indexed keys (and some that are
// not), with conditions indexes can and cannot serve.
func randomFilter(r *rand.Rand, depth int) string {
	cond := func() string {
		key := []string{"kw", "n", "f", "b", "t", "u", "loc", "txt", "other", "obj.x", "obj.arr[].y"}[r.IntN(11)]
		switch r.IntN(14) {
		case 0:
			return fmt.Sprintf(`{"key":%q,"match":{"value":%q}}`, key, words[r.IntN(len(words))])
		case 1:
			return fmt.Sprintf(`{"key":%q,"match":{"value":%d}}`, key, r.IntN(20)-5)
		case 2:
			return fmt.Sprintf(`{"key":%q,"match":{"value":%v}}`, key, r.IntN(2) == 0)
		case 3:
			return fmt.Sprintf(`{"key":%q,"match":{"any":[%q,%q]}}`, key, words[r.IntN(len(words))], uuids[r.IntN(len(uuids))])
		case 4:
			return fmt.Sprintf(`{"key":%q,"match":{"any":[%d,%d]}}`, key, r.IntN(20)-5, r.IntN(20)-5)
		case 5:
			return fmt.Sprintf(`{"key":%q,"range":{"gte":%.1f,"lt":%.1f}}`, key, r.Float64()*10-5, r.Float64()*10+2)
		case 6:
			return fmt.Sprintf(`{"key":%q,"range":{"gt":"2023-0%d-10T00:00:00Z"}}`, key, 1+r.IntN(9))
		case 7:
			return fmt.Sprintf(`{"key":%q,"geo_radius":{"center":{"lat":%.2f,"lon":%.2f},"radius":%d}}`, key, 40+r.Float64()*20, r.Float64()*20, 100_000+r.IntN(800_000))
		case 8:
			lat, lon := 40+r.Float64()*15, r.Float64()*15
			return fmt.Sprintf(`{"key":%q,"geo_bounding_box":{"top_left":{"lat":%.2f,"lon":%.2f},"bottom_right":{"lat":%.2f,"lon":%.2f}}}`, key, lat+5, lon, lat, lon+5)
		case 9:
			return fmt.Sprintf(`{"key":%q,"match":{"text":%q}}`, key, []string{"cheap car", "CAR", "blue", "red car", "x"}[r.IntN(5)])
		case 10:
			return fmt.Sprintf(`{"key":%q,"match":{"%s":%q}}`, key, []string{"text_any", "phrase", "prefix"}[r.IntN(3)], []string{"cheap car", "car", "re", "blue sky"}[r.IntN(4)])
		case 11:
			return fmt.Sprintf(`{"has_id":[%d,%d,%d]}`, r.IntN(60), r.IntN(60), r.IntN(60))
		case 12:
			return fmt.Sprintf(`{"key":%q,"match":{"except":[%q]}}`, key, words[r.IntN(len(words))])
		default:
			return fmt.Sprintf(`{"is_empty":{"key":%q}}`, key)
		}
	}
	clause := func() string {
		n := 1 + r.IntN(3)
		cs := make([]string, n)
		for i := range cs {
			if depth > 0 && r.IntN(4) == 0 {
				cs[i] = randomFilter(r, depth-1)
			} else {
				cs[i] = cond()
			}
		}
		return "[" + strings.Join(cs, ",") + "]"
	}
	var parts []string
	for _, c := range []string{"must", "should", "must_not"} {
		if r.IntN(2) == 0 {
			parts = append(parts, fmt.Sprintf("%q:%s", c, clause()))
		}
	}
	if r.IntN(6) == 0 {
		parts = append(parts, fmt.Sprintf(`"min_should":{"conditions":%s,"min_count":%d}`, clause(), 1+r.IntN(2)))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func mustSchema(t testing.TB, s string) Schema {
	t.Helper()
	sc, err := ParseSchema([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func mustPath(t testing.TB, s string) filter.Path {
	t.Helper()
	p, err := filter.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testSet indexes every test key with a fitting (and some unfitting) type.
func testSet(t testing.TB) *Set {
	s := New()
	for k, schema := range map[string]string{
		"kw": `"keyword"`, "n": `{"type":"integer"}`, "f": `"float"`, "b": `"bool"`, "t": `"datetime"`,
		"u": `"uuid"`, "loc": `"geo"`, "txt": `{"type":"text","tokenizer":"word","lowercase":true}`,
		"obj.x": `"keyword"`, "obj.arr[].y": `"integer"`,
	} {
		s.Install(NewField(mustPath(t, k), mustSchema(t, schema)))
	}
	return s
}

func TestIndexesAgreeWithFullScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	s := testSet(t)
	points := map[string]point{}
	put := func(id int) {
		p := point{key: filter.IDKey(pointid.Num(uint64(id)))}
		var err error
		if p.payload, err = filter.DecodePayload([]byte(randomPayload(r))); err != nil {
			t.Fatal(err)
		}
		points[p.key] = p
		s.Update(p.key, p.payload)
	}
	for id := range 600 {
		put(id)
	}
	check := func(round int) {
		t.Helper()
		for i := range 300 {
			raw := randomFilter(r, 2)
			f, err := filter.Parse([]byte(raw))
			if err != nil {
				t.Fatalf("filter %s: %v", raw, err)
			}
			ref, viaIndex := filter.Compile(f, textOnly{s}), filter.Compile(f, s)
			var want []string
			for k, p := range points {
				a, b := ref.Match(p), viaIndex.Match(p)
				if a != b {
					t.Fatalf("round %d filter %d %s on %v: payload says %v, indexes say %v", round, i, raw, p.payload, a, b)
				}
				if a {
					want = append(want, k)
				}
			}
			plan := s.Plan(f)
			if !plan.Known {
				continue
			}
			if plan.Estimate < len(want) {
				t.Fatalf("filter %s: estimate %d below the %d matches", raw, plan.Estimate, len(want))
			}
			cands := map[string]bool{}
			for _, k := range plan.Keys() {
				if cands[k] {
					t.Fatalf("filter %s: duplicate candidate", raw)
				}
				cands[k] = true
			}
			for _, k := range want {
				if !cands[k] {
					t.Fatalf("filter %s: match %x missing from the %d candidates", raw, k, len(cands))
				}
			}
		}
	}
	check(0)
	// Rewrite and remove points, then check again.
	for range 400 {
		id := r.IntN(700)
		if r.IntN(3) == 0 {
			key := filter.IDKey(pointid.Num(uint64(id)))
			delete(points, key)
			s.Remove(key)
			continue
		}
		put(id)
	}
	check(1)
}

func TestWalkOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	f := func(schema string, payload func(i int) string, value func(v any) (float64, bool)) {
		t.Helper()
		idx := NewField(mustPath(t, "v"), mustSchema(t, schema))
		type pair struct {
			v   float64
			key string
		}
		ref := map[string][]float64{}
		for round := range 3 {
			for range 300 {
				key := filter.IDKey(pointid.Num(uint64(r.IntN(200))))
				if r.IntN(5) == 0 {
					idx.Remove(key)
					delete(ref, key)
					continue
				}
				p, err := filter.DecodePayload([]byte(payload(r.IntN(50))))
				if err != nil {
					t.Fatal(err)
				}
				idx.Set(key, p)
				var vals []float64
				filter.Leaves(filter.Path{First: "v"}.Get(p), func(x any) bool {
					if v, ok := value(x); ok && !slices.Contains(vals, v) {
						vals = append(vals, v)
					}
					return false
				})
				delete(ref, key)
				if len(vals) > 0 {
					ref[key] = vals
				}
			}
			var all []pair
			for k, vs := range ref {
				for _, v := range vs {
					all = append(all, pair{v, k})
				}
			}
			sort.Slice(all, func(i, j int) bool {
				return all[i].v < all[j].v || (all[i].v == all[j].v && all[i].key < all[j].key)
			})
			for _, desc := range []bool{false, true} {
				for _, start := range []*float64{nil, &all[len(all)/2].v} {
					var want []pair
					for _, p := range all {
						if start == nil || (!desc && p.v >= *start) || (desc && p.v <= *start) {
							want = append(want, p)
						}
					}
					if desc {
						slices.Reverse(want)
					}
					var got []pair
					idx.Walk(desc, start, func(v float64, key string) bool {
						got = append(got, pair{v, key})
						return len(got) < len(want)+5
					})
					if !slices.Equal(got, want) {
						t.Fatalf("%s round %d desc=%v start=%v:\n got %v\nwant %v", schema, round, desc, start, got, want)
					}
				}
			}
			if idx.Points() != len(ref) {
				t.Fatalf("%s: Points() = %d, want %d", schema, idx.Points(), len(ref))
			}
		}
	}
	num := func(x any) (float64, bool) { return filter.AsFloat(x) }
	f(`"integer"`, func(i int) string { return fmt.Sprintf(`{"v":[%d,%d.5,"x"]}`, i%7, i%3) }, num)
	f(`"float"`, func(i int) string { return fmt.Sprintf(`{"v":%d}`, i%13) }, num)
	f(`"datetime"`, func(i int) string { return fmt.Sprintf(`{"v":["2024-01-0%dT00:00:0%dZ",5]}`, 1+i%9, i%10) },
		func(x any) (float64, bool) {
			s, ok := x.(string)
			if !ok {
				return 0, false
			}
			us, ok := filter.ParseDatetime(s)
			return float64(us) / 1e6, ok
		})
}

func TestSchemas(t *testing.T) {
	f := func(raw string, want Type, ok bool) {
		t.Helper()
		s, err := ParseSchema([]byte(raw))
		if (err == nil) != ok || (ok && s.Type != want) {
			t.Fatalf("ParseSchema(%s) = %+v, %v", raw, s, err)
		}
		if ok {
			again, err := ParseSchema(s.JSON())
			if err != nil || !again.Equal(s) {
				t.Fatalf("ParseSchema(%s) round trip: %+v, %v", raw, again, err)
			}
		}
	}
	for _, ty := range []Type{Keyword, Integer, Float, Bool, Datetime, UUID, Geo, Text} {
		f(`"`+string(ty)+`"`, ty, true)
		f(`{"type":"`+string(ty)+`"}`, ty, true)
	}
	f(`{"type":"keyword","is_tenant":true,"on_disk":false}`, Keyword, true)
	f(`{"type":"integer","lookup":false,"range":true}`, Integer, true)
	f(`{"type":"integer","lookup":false,"range":false}`, "", false)
	f(`{"type":"text","tokenizer":"whitespace","min_token_len":2,"max_token_len":10,"lowercase":false}`, Text, true)
	f(`{"type":"text","tokenizer":"klingon"}`, "", false)
	f(`{"type":"text","min_token_len":-1}`, "", false)
	f(`"vector"`, "", false)
	f(`{"type":5}`, "", false)
	f(`{}`, "", false)
	f(`[]`, "", false)
	f(``, "", false)
	f(`5`, "", false)

	s := mustSchema(t, `{"type":"text","tokenizer":"whitespace","min_token_len":2,"lowercase":false}`)
	if got := s.Tokenizer.Tokens("Hi a-b C d"); !slices.Equal(got, []string{"Hi", "a-b"}) {
		t.Fatalf("whitespace tokens %v", got)
	}
	if got := filter.DefaultTokenizer.Tokens("Hi a-b, Ünïcode!"); !slices.Equal(got, []string{"hi", "a", "b", "ünïcode"}) {
		t.Fatalf("word tokens %v", got)
	}
}

func TestPayloadSchema(t *testing.T) {
	s := testSet(t)
	for i, p := range []string{`{"kw":"a","n":1}`, `{"kw":["b",1]}`, `{"n":"x"}`} {
		m, _ := filter.DecodePayload([]byte(p))
		s.Update(filter.IDKey(pointid.Num(uint64(i))), m)
	}
	info := s.PayloadSchema()
	if got := info["kw"]; got.DataType != Keyword || got.Points != 2 || got.Params != nil {
		t.Fatalf("kw: %+v", got)
	}
	if got := info["n"]; got.DataType != Integer || got.Points != 1 || string(got.Params) != `{"type":"integer"}` {
		t.Fatalf("n: %+v", got)
	}
	if !s.Drop("kw") || s.Drop("kw") {
		t.Fatal("Drop")
	}
	if _, ok := s.PayloadSchema()["kw"]; ok || s.Len() != 9 {
		t.Fatalf("after drop: %v", s.Keys())
	}
}
