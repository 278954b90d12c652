package rest

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fastFloats must agree with encoding/json wherever it answers, and hand
// everything else to the slow path.
func TestFastFloats(t *testing.T) {
	f := func(raw string, want []float32, wantOK bool) {
		t.Helper()
		got, ok := fastFloats([]byte(raw))
		if ok != wantOK || (ok && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: got %v %v, want %v %v", raw, got, ok, want, wantOK)
		}
		if ok {
			var ref []float64
			if err := json.Unmarshal([]byte(raw), &ref); err != nil || len(ref) != len(got) {
				t.Errorf("%s: encoding/json disagrees: %v %v", raw, ref, err)
			}
			for i := range ref {
				if float32(ref[i]) != got[i] {
					t.Errorf("%s: element %d: %v, encoding/json %v", raw, i, got[i], ref[i])
				}
			}
		}
	}
	f(`[]`, []float32{}, true)
	f(` [ ] `, []float32{}, true)
	f(`[1,2.5,-3e2, 0.125 ,1E-3]`, []float32{1, 2.5, -300, 0.125, 0.001}, true)
	f("[\n1,\t2\r\n]", []float32{1, 2}, true)
	f(`[1e39]`, nil, false)
	f(`[1e400]`, nil, false)
	f(`[null]`, nil, false)
	f(`["1"]`, nil, false)
	f(`[[1]]`, nil, false)
	f(`[1,]`, nil, false)
	f(`[1 2]`, nil, false)
	f(`[1]x`, nil, false)
	f(`{"a":1}`, nil, false)
	f(`1`, nil, false)
	f(``, nil, false)
}

func BenchmarkFloats(b *testing.B) {
	raw := []byte(`[0.1234567,-0.7654321,0.5,0.25,-0.125,0.9999999,0.0001,-0.3333333]`)
	for range 3 {
		raw = append(append(raw[:len(raw)-1:len(raw)-1], ','), raw[1:]...)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := floats(raw, "vector"); err != nil {
			b.Fatal(err)
		}
	}
}
