package pointid

import (
	"encoding/json"
	"testing"
)

func TestParseAndOrder(t *testing.T) {
	f := func(in string, want any, wantErr bool) {
		t.Helper()
		id, err := Parse(json.RawMessage(in))
		if (err != nil) != wantErr {
			t.Fatalf("Parse(%s) error = %v, wantErr %v", in, err, wantErr)
		}
		if err != nil {
			return
		}
		if got := JSON(id); got != want {
			t.Fatalf("Parse(%s) = %v, want %v", in, got, want)
		}
		back, err := FromKey(Key(id))
		if err != nil || Compare(back, id) != 0 {
			t.Fatalf("key round trip of %s: %v %v", in, back, err)
		}
	}
	f(`0`, uint64(0), false)
	f(`18446744073709551615`, uint64(18446744073709551615), false)
	f(`"5C56C793-69F3-4FBF-87E6-C4BF54C28C26"`, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", false)
	f(`"5c56c79369f34fbf87e6c4bf54c28c26"`, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", false)
	f(`-1`, nil, true)
	f(`1.5`, nil, true)
	f(`"abc"`, nil, true)
	f(`{}`, nil, true)
	f(``, nil, true)

	a, _ := Parse(json.RawMessage(`2`))
	b, _ := Parse(json.RawMessage(`10`))
	c, _ := Parse(json.RawMessage(`"00000000-0000-0000-0000-000000000001"`))
	if Compare(a, b) >= 0 || Compare(b, c) >= 0 || Compare(c, a) <= 0 {
		t.Fatal("want 2 < 10 < any UUID")
	}
}
