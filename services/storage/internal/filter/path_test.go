package filter

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestPathParseAndString(t *testing.T) {
	f := func(in, canonical string, steps int) {
		t.Helper()
		p, err := ParsePath(in)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", in, err)
		}
		if p.String() != canonical || len(p.Rest) != steps {
			t.Fatalf("ParsePath(%q) = %q with %d steps, want %q with %d", in, p.String(), len(p.Rest), canonical, steps)
		}
		again, err := ParsePath(p.String())
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip of %q: %+v, %v", in, again, err)
		}
	}
	f("a", "a", 0)
	f("a.b_c-1", "a.b_c-1", 1)
	f("a[].b", "a[].b", 2)
	f("a[0][12].b[]", "a[0][12].b[]", 4)
	f(`"a.b"`, `"a.b"`, 0)
	f(`a."x y".z`, `a."x y".z`, 2)
	f("größe", "größe", 0)
	f(`"a"`, "a", 0)
	for _, bad := range []string{"", ".a", "a.", "a..b", "a[", "a[x]", "a]", `"a`, `a."b`, "a b", "a[-1]", "[0]", "a.[]", `"a\"b"`} {
		if p, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) = %+v, want an error", bad, p)
		}
	}
}

func TestPathGet(t *testing.T) {
	doc := map[string]any{}
	_ = json.Unmarshal([]byte(`{"a":{"b":[{"c":1},{"c":2},{"d":{"e":3}}]},"g":["g0","g1"],"arr":[{"a":[1,2]},{"a":4},{"b":5}]}`), &doc)
	f := func(path string, want string) {
		t.Helper()
		p, err := ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(p.Get(doc))
		if string(got) != want {
			t.Fatalf("Get(%s) = %s, want %s", path, got, want)
		}
	}
	f("a.b[].c", `[1,2]`)
	f("a.b[1].c", `[2]`)
	f("a.b[3]", `null`)
	f("a.b.c", `null`)
	f("a.b[].d.e", `[3]`)
	f("g", `[["g0","g1"]]`)
	f("g[1]", `["g1"]`)
	f("arr[].a", `[[1,2],4]`)
	f("arr[].a[]", `[1,2]`)
	f("missing", `null`)
}

func TestSetAndRemoveAt(t *testing.T) {
	f := func(doc, path, src, want string) {
		t.Helper()
		obj := mustPayload(t, doc)
		p, err := ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		SetAt(obj, p, mustPayload(t, src))
		got, _ := EncodePayload(obj)
		if string(got) != want {
			t.Fatalf("SetAt(%s, %s, %s) = %s, want %s", doc, path, src, got, want)
		}
	}
	f(`{}`, "a", `{"x":1}`, `{"a":{"x":1}}`)
	f(`{"a":{"y":2}}`, "a", `{"x":1}`, `{"a":{"x":1,"y":2}}`)
	f(`{"a":5}`, "a.b", `{"x":1}`, `{"a":{"b":{"x":1}}}`)
	f(`{"a":[{"k":1},{"k":2}]}`, "a[]", `{"x":1}`, `{"a":[{"k":1,"x":1},{"k":2,"x":1}]}`)
	f(`{"a":[{"k":1},{"k":2}]}`, "a[1]", `{"x":1}`, `{"a":[{"k":1},{"k":2,"x":1}]}`)
	f(`{"a":[{"k":1}]}`, "a[5]", `{"x":1}`, `{"a":[{"k":1}]}`)
	f(`{"a":1}`, "a[]", `{"x":1}`, `{"a":[]}`)
	f(`{"a":{"x":1,"y":2}}`, "a", `{"x":null}`, `{"a":{"y":2}}`)

	r := func(doc, path, want string, removed bool) {
		t.Helper()
		obj := mustPayload(t, doc)
		p, err := ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := RemoveAt(obj, p); got != removed {
			t.Fatalf("RemoveAt(%s, %s) = %v", doc, path, got)
		}
		got, _ := EncodePayload(obj)
		if string(got) != want {
			t.Fatalf("RemoveAt(%s, %s) left %s, want %s", doc, path, got, want)
		}
	}
	r(`{"a":1,"b":2}`, "a", `{"b":2}`, true)
	r(`{"a":1}`, "z", `{"a":1}`, false)
	r(`{"a":{"b":1,"c":2}}`, "a.b", `{"a":{"c":2}}`, true)
	r(`{"a":[{"b":1,"c":2},{"b":3}]}`, "a[].b", `{"a":[{"c":2},{}]}`, true)
	r(`{"a":[1,2]}`, "a[]", `{"a":[]}`, true)
	r(`{"a":[1,2]}`, "a[0]", `{"a":[1,2]}`, false)
	r(`{"a":{"b":[1]}}`, "a.b[]", `{"a":{"b":[]}}`, true)
	r(`{"a":[{"b":1}]}`, "a[0].b", `{"a":[{}]}`, true)
	r(`{"a":5}`, "a.b", `{"a":5}`, false)
}

func TestDatetime(t *testing.T) {
	f := func(s string, want int64, ok bool) {
		t.Helper()
		got, gotOK := ParseDatetime(s)
		if gotOK != ok || (ok && got != want) {
			t.Fatalf("ParseDatetime(%q) = %d, %v; want %d, %v", s, got, gotOK, want, ok)
		}
	}
	const base = 1675853340000000 // 2023-02-08T10:49:00Z
	f("2023-02-08T10:49:00Z", base, true)
	f("2023-02-08t10:49:00z", base, true)
	f("2023-02-08T11:49:00+01:00", base, true)
	f("2023-02-08T11:49:00+0100", base, true)
	f("2023-02-08T11:49:00+01", base, true)
	f("2023-02-08T10:49:00", base, true)
	f("2023-02-08 10:49:00", base, true)
	f("2023-02-08T10:49", base, true)
	f("2023-02-08T10:49:00.000123Z", base+123, true)
	f("2023-02-08", base-(10*3600+49*60)*1_000_000, true)
	f("2023-02-30", 0, false)
	f("08/02/2023", 0, false)
	f("2023-02-08T10:49:00 Z", 0, false)
	f("", 0, false)
}

func TestGeoHelpers(t *testing.T) {
	berlin, paris := GeoPoint{Lat: 52.52, Lon: 13.405}, GeoPoint{Lat: 48.8566, Lon: 2.3522}
	if d := Haversine(berlin, paris); d < 877_000 || d > 879_000 {
		t.Fatalf("Berlin-Paris = %.0f m", d)
	}
	// The bounding box of a circle contains every point of the circle.
	r := rand.New(rand.NewPCG(1, 2))
	f := func(g GeoRadius) {
		t.Helper()
		box := g.BoundingBox()
		span := 2 * g.Radius / earthRadius * 180 / math.Pi
		inside := 0
		for range 20000 {
			q := GeoPoint{Lat: g.Center.Lat + (r.Float64()*2-1)*span, Lon: g.Center.Lon + (r.Float64()*2-1)*span*20}
			if q.Lat > 90 || q.Lat < -90 {
				continue
			}
			if q.Lon > 180 {
				q.Lon -= 360
			}
			if q.Lon < -180 {
				q.Lon += 360
			}
			if g.Contains(q) {
				inside++
				if !box.Contains(q) {
					t.Fatalf("box %+v misses %+v of circle %+v", box, q, g)
				}
			}
		}
		if inside == 0 {
			t.Fatalf("no sample fell in circle %+v", g)
		}
	}
	f(GeoRadius{Center: berlin, Radius: 1000})
	f(GeoRadius{Center: GeoPoint{Lat: 0, Lon: 179.99}, Radius: 50_000})
	f(GeoRadius{Center: GeoPoint{Lat: 89.9, Lon: 0}, Radius: 50_000})
	f(GeoRadius{Center: GeoPoint{Lat: -60, Lon: -179.5}, Radius: 200_000})
}
