package rest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/routing"
)

func TestShardKeySelector(t *testing.T) {
	f := func(body, want, wantErr string) {
		t.Helper()
		var fl fields
		if err := json.Unmarshal([]byte(body), &fl); err != nil {
			t.Fatal(err)
		}
		sel, err := shardKeySelector(fl)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%s: error %v, want %q", body, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var got []string
		if sel != nil {
			for _, k := range sel.Keys {
				got = append(got, routing.KeyID(k))
			}
			if sel.Fallback != nil {
				got = append(got, "fallback "+routing.KeyID(sel.Fallback))
			}
		}
		if strings.Join(got, ",") != want {
			t.Fatalf("%s: selector %v, want %s", body, got, want)
		}
	}
	f(`{}`, "", "")
	f(`{"shard_key":null}`, "", "")
	f(`{"shard_key":"a"}`, "k:a", "")
	f(`{"shard_key":7}`, "n:7", "")
	f(`{"shard_key":"7"}`, "k:7", "")
	f(`{"shard_key":["a",18446744073709551615]}`, "k:a,n:18446744073709551615", "")
	f(`{"shard_key":{"target":"a","fallback":2}}`, "k:a,fallback n:2", "")
	f(`{"shard_key":-1}`, "", "shard_key: expected a string or a non-negative integer")
	f(`{"shard_key":1.5}`, "", "shard_key: expected a string or a non-negative integer")
	f(`{"shard_key":{"target":"a","fallback":2,"x":1}}`, "", "unknown field `x`")
}
