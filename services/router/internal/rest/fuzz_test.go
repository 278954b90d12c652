package rest

import (
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// FuzzDecode feeds arbitrary bodies to every request decoder: none may
// panic, and every failure must be a client error (400), never an internal
// one. The seed corpus runs with the ordinary tests.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `1`, `{"a":`,
		`{"vectors":{"size":4,"distance":"Dot"},"shard_number":2,"hnsw_config":{"m":8}}`,
		`{"vectors":{"a":{"size":4,"distance":"Cosine","on_disk":true}}}`,
		`{"points":[{"id":1,"vector":[1,2],"payload":{"a":1}},{"id":"5c56c793-69f3-4fbf-87e6-c4bf54c28c26","vector":{"a":[1]}}]}`,
		`{"batch":{"ids":[1,2],"vectors":{"a":[[1],[2]]},"payloads":[null,{}]}}`,
		`{"ids":[1],"with_payload":{"include":["a.b"]},"with_vector":["a"]}`,
		`{"points":[1,2]}`, `{"filter":{}}`,
		`{"vector":{"name":"a","vector":[1]},"top":3,"params":{"exact":true},"score_threshold":0.5}`,
		`{"query":{"nearest":[1,2]},"using":"a","limit":3}`, `{"query":5}`, `{"query":{"fusion":"rrf"}}`,
		`{"offset":"00000000-0000-0000-0000-000000000001","limit":3,"with_payload":false}`,
		`{"exact":true}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			if k := apierr.KindOf(err); k != apierr.BadRequest && k != apierr.Validation {
				t.Fatalf("%q: %v error %v", body, k, err)
			}
		}
		_, err := decodeCreateCollection("c", body)
		check(err)
		_, err = decodeUpsert(body)
		check(err)
		_, _, err = decodeRetrieve(body)
		check(err)
		_, err = decodeDelete(body)
		check(err)
		_, err = decodeSearch(body)
		check(err)
		_, err = decodeQuery(body)
		check(err)
		_, err = decodeScroll(body)
		check(err)
		check(decodeCount(body))
	})
}
