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
		`{"prefetch":[{"query":[1],"limit":2,"prefetch":{"query":3}}],"query":{"rrf":{"k":3,"weights":[1]}}}`,
		`{"query":{"recommend":{"positive":[1,[1,2]],"negative":[2],"strategy":"best_score"}},"filter":{"must":[]}}`,
		`{"query":{"discover":{"target":[1,2],"context":[{"positive":1,"negative":[1,2]}]}}}`,
		`{"query":{"context":{"positive":1,"negative":2}},"limit":3}`,
		`{"query":3,"lookup_from":{"collection":"o","vector":"v"},"prefetch":{"query":1,"lookup_from":{"collection":"o"}}}`,
		`{"query":[1],"group_by":"g","with_lookup":{"collection":"o","with_payload":["a"],"with_vectors":true}}`,
		`{"vector":[1],"group_by":"g","group_size":1,"limit":1,"with_lookup":"o"}`,
		`{"target":1,"context":[{"positive":2,"negative":3}],"limit":3,"using":"a"}`,
		`{"searches":[{"query":[1]},{"vector":[1],"limit":1},{"positive":[1],"limit":2}]}`,
		`{"group_by":"a","group_size":2,"limit":3,"vector":[1],"positive":[1]}`,
		`{"key":"a","limit":2,"sample":3,"using":"v"}`,
		`{"operations":[{"upsert":{"points":[]}},{"set_payload":{"payload":{},"points":[1]}},{"delete_vectors":{"filter":{},"vector":["a"]}}]}`,
		`{"actions":[{"create_alias":{"collection_name":"a","alias_name":"b"}},{"rename_alias":{"old_alias_name":"b","new_alias_name":"c"}}]}`,
		`{"optimizers_config":{"indexing_threshold":1},"params":{"replication_factor":2},"vectors":{"":{"on_disk":true}}}`,
		`{"field_name":"a","field_schema":{"type":"keyword"}}`, `{"keys":["a"],"points":[1]}`,
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
		_, _, _, err = decodeRetrieve(body)
		check(err)
		_, err = decodePointsSelector(body)
		check(err)
		_, err = decodeSetPayload(body)
		check(err)
		_, err = decodeDeletePayload(body)
		check(err)
		_, err = decodeUpdateVectors(body)
		check(err)
		_, err = decodeDeleteVectors(body)
		check(err)
		_, err = decodeBatch(body)
		check(err)
		_, _, err = decodeCreateIndex(body)
		check(err)
		_, err = decodeAliases(body)
		check(err)
		_, err = decodeUpdateCollection("c", body)
		check(err)
		_, err = decodeQueryBatch(body)
		check(err)
		_, err = decodeSearchBatch(body)
		check(err)
		_, err = decodeRecommend(body)
		check(err)
		_, err = decodeRecommendBatch(body)
		check(err)
		_, err = decodeDiscover(body)
		check(err)
		_, err = decodeDiscoverBatch(body)
		check(err)
		_, err = decodeQueryGroups(body)
		check(err)
		_, err = decodeSearchGroups(body)
		check(err)
		_, err = decodeRecommendGroups(body)
		check(err)
		_, err = decodeFacet(body)
		check(err)
		_, err = decodeMatrix(body)
		check(err)
		_, err = decodeSearch(body)
		check(err)
		_, err = decodeQuery(body)
		check(err)
		_, err = decodeScroll(body)
		check(err)
		_, err = decodeCount(body)
		check(err)
	})
}
