package replica

import (
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

func TestRecordFields(t *testing.T) {
	f := func(p *shoalv1.Point, payload string, names map[string]bool) {
		t.Helper()
		rec, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		rec = withVersion(rec, 7)
		if got := string(recordPayload(rec)); got != payload {
			t.Fatalf("payload %q, want %q", got, payload)
		}
		for name, want := range names {
			if got := recordHasVector(rec, name); got != want {
				t.Fatalf("has vector %q = %v, want %v", name, got, want)
			}
		}
	}
	f(point(1, `{"a":1}`, map[string][]float32{"": {1, 2}}), `{"a":1}`, map[string]bool{"": true, "a": false})
	f(point(2, ``, map[string][]float32{"x": {1}, "yy": {}}), ``, map[string]bool{"": false, "x": true, "yy": true, "y": false})
	f(point(3, `{}`, nil), `{}`, map[string]bool{"": false})
	if recordPayload([]byte{0xff, 0xff}) != nil || recordHasVector([]byte{0x12, 0x50}, "") {
		t.Fatal("malformed records must read as empty")
	}
}
