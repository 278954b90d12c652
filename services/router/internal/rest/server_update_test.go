package rest_test

import (
	"strings"
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/rest"
)

// seed creates collection c (2-dim Dot, 3 shards) with points 1..6 whose
// payload is {"i": id, "even": id%2==0}.
func seed(e *env) {
	e.t.Helper()
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"},"shard_number":3}`)
	var pts []string
	for i := 1; i <= 6; i++ {
		even := "false"
		if i%2 == 0 {
			even = "true"
		}
		pts = append(pts, `{"id":`+itoa(i)+`,"vector":[`+itoa(i)+`,1],"payload":{"i":`+itoa(i)+`,"even":`+even+`}}`)
	}
	e.ok("PUT", "/collections/c/points?wait=true", `{"points":[`+strings.Join(pts, ",")+`]}`)
}

const evenFilter = `{"must":[{"key":"even","match":{"value":true}}]}`

func TestFilteredReads(t *testing.T) {
	e := newEnv(t, rest.Options{})
	seed(e)
	if got := e.ok("POST", "/collections/c/points/count", `{"filter":`+evenFilter+`}`); got != `{"count":3}` {
		t.Fatalf("count with filter: %s", got)
	}
	if got := e.ok("POST", "/collections/c/points/search", `{"vector":[1,0],"limit":2,"filter":`+evenFilter+`}`); !strings.HasPrefix(got, `[{"id":6,`) || !strings.Contains(got, `{"id":4,`) {
		t.Fatalf("search with filter: %s", got)
	}
	if got := e.ok("POST", "/collections/c/points/query", `{"query":[1,0],"limit":1,"filter":{"must_not":[{"key":"even","match":{"value":true}}]}}`); !strings.HasPrefix(got, `{"points":[{"id":5,`) {
		t.Fatalf("query with filter: %s", got)
	}
	got := e.ok("POST", "/collections/c/points/scroll", `{"filter":`+evenFilter+`,"with_payload":false}`)
	if got != `{"next_page_offset":null,"points":[{"id":2,"payload":null,"vector":null},{"id":4,"payload":null,"vector":null},{"id":6,"payload":null,"vector":null}]}` {
		t.Fatalf("scroll with filter: %s", got)
	}
	// order_by merges the shards' pages by value.
	got = e.ok("POST", "/collections/c/points/scroll", `{"order_by":{"key":"i","direction":"desc","start_from":5},"limit":3,"with_payload":false}`)
	if got != `{"next_page_offset":null,"points":[{"id":5,"order_value":5,"payload":null,"vector":null},{"id":4,"order_value":4,"payload":null,"vector":null},{"id":3,"order_value":3,"payload":null,"vector":null}]}` {
		t.Fatalf("scroll with order_by: %s", got)
	}
	e.fails("POST", "/collections/c/points/scroll", `{"order_by":"i","offset":1}`, 400, "Cannot use an `offset` when using `order_by`")
}

func TestPayloadAndVectorUpdates(t *testing.T) {
	e := newEnv(t, rest.Options{})
	seed(e)
	payloadOf := func(id string) string {
		t.Helper()
		got := e.ok("POST", "/collections/c/points", `{"ids":[`+id+`],"with_vector":true}`)
		return got
	}
	e.ok("POST", "/collections/c/points/payload?wait=true", `{"payload":{"tag":"x"},"points":[1,2]}`)
	if got := payloadOf("1"); got != `[{"id":1,"payload":{"even":false,"i":1,"tag":"x"},"vector":[1,1]}]` {
		t.Fatalf("set payload: %s", got)
	}
	e.ok("PUT", "/collections/c/points/payload?wait=true", `{"payload":{"only":1},"filter":`+evenFilter+`}`)
	if got := payloadOf("4"); got != `[{"id":4,"payload":{"only":1},"vector":[4,1]}]` {
		t.Fatalf("overwrite payload by filter: %s", got)
	}
	e.ok("POST", "/collections/c/points/payload/delete?wait=true", `{"keys":["tag","i"],"points":[1]}`)
	if got := payloadOf("1"); got != `[{"id":1,"payload":{"even":false},"vector":[1,1]}]` {
		t.Fatalf("delete payload: %s", got)
	}
	e.ok("POST", "/collections/c/points/payload/clear?wait=true", `{"points":[1]}`)
	if got := payloadOf("1"); got != `[{"id":1,"payload":{},"vector":[1,1]}]` {
		t.Fatalf("clear payload: %s", got)
	}
	e.ok("PUT", "/collections/c/points/vectors?wait=true", `{"points":[{"id":1,"vector":[9,9]}]}`)
	if got := payloadOf("1"); got != `[{"id":1,"payload":{},"vector":[9,9]}]` {
		t.Fatalf("update vectors: %s", got)
	}
	e.fails("PUT", "/collections/c/points/vectors", `{"points":[{"id":1,"vector":[9]}]}`, 400, "expected dim: 2, got 1")
	e.fails("PUT", "/collections/c/points/vectors", `{"points":[]}`, 422, "points")
	e.fails("POST", "/collections/c/points/vectors/delete", `{"points":[1],"vector":["nope"]}`, 400, "Not existing vector name error: nope")
	e.fails("POST", "/collections/c/points/payload", `{"payload":{"a":1}}`, 400, "missing field `points` or `filter`")
	e.fails("POST", "/collections/c/points/payload", `{"payload":[1],"points":[1]}`, 400, "expected a map")
	e.fails("POST", "/collections/c/points/payload/delete", `{"points":[1]}`, 400, "missing field `keys`")

	// Delete by filter (2, 4 and 6 had their payload overwritten).
	e.ok("POST", "/collections/c/points/delete?wait=true", `{"filter":{"must":[{"key":"only","match":{"value":1}}]}}`)
	if got := e.ok("POST", "/collections/c/points/count", `{}`); got != `{"count":3}` {
		t.Fatalf("count after delete by filter: %s", got)
	}
}

func TestBatchUpdate(t *testing.T) {
	e := newEnv(t, rest.Options{})
	seed(e)
	got := e.ok("POST", "/collections/c/points/batch?wait=true", `{"operations":[
		{"upsert":{"points":[{"id":10,"vector":[1,2],"payload":{"i":10}}]}},
		{"set_payload":{"payload":{"new":true},"points":[10]}},
		{"delete":{"points":[1]}},
		{"delete_payload":{"keys":["i"],"filter":{"must":[{"key":"i","range":{"gte":5}}]}}},
		{"clear_payload":{"points":[2]}},
		{"update_vectors":{"points":[{"id":3,"vector":[0,0]}]}},
		{"overwrite_payload":{"payload":{"o":1},"points":[3]}},
		{"delete_vectors":{"points":[4],"vector":[""]}}
	]}`)
	if strings.Count(got, `"status":"completed"`) != 8 {
		t.Fatalf("batch results: %s", got)
	}
	got = e.ok("POST", "/collections/c/points", `{"ids":[10,1,2,3,4,5],"with_vector":true}`)
	want := `[{"id":10,"payload":{"new":true},"vector":[1,2]},{"id":2,"payload":{},"vector":[2,1]},{"id":3,"payload":{"o":1},"vector":[0,0]},{"id":4,"payload":{"even":true,"i":4},"vector":{}},{"id":5,"payload":{"even":false},"vector":[5,1]}]`
	if got != want {
		t.Fatalf("after batch:\n got %s\nwant %s", got, want)
	}
	// A bad operation anywhere fails the batch before anything is applied.
	e.fails("POST", "/collections/c/points/batch", `{"operations":[{"delete":{"points":[2]}},{"upsert":{"points":[{"id":1,"vector":[1]}]}}]}`, 400, "expected dim")
	if got := e.ok("POST", "/collections/c/points/count", `{}`); got != `{"count":6}` {
		t.Fatalf("a rejected batch wrote: %s", got)
	}
	e.fails("POST", "/collections/c/points/batch", `{"operations":[{"delete":{"points":[2]},"clear_payload":{"points":[2]}}]}`, 400, "exactly one")
	e.fails("POST", "/collections/c/points/batch", `{"operations":[{"explode":{}}]}`, 400, "unknown field `explode`")
}

func TestFieldIndexes(t *testing.T) {
	e := newEnv(t, rest.Options{})
	seed(e)
	e.ok("PUT", "/collections/c/index?wait=true", `{"field_name":"i","field_schema":"integer"}`)
	e.ok("PUT", "/collections/c/index", `{"field_name":"even","field_schema":{"type":"bool"}}`)
	got := e.ok("GET", "/collections/c", "")
	if !strings.Contains(got, `"payload_schema":{"even":{"data_type":"bool","points":6},"i":{"data_type":"integer","points":6}}`) ||
		!strings.Contains(got, `"points_count":6`) || !strings.Contains(got, `"segments_count":3`) {
		t.Fatalf("collection info with indexes: %s", got)
	}
	e.ok("DELETE", "/collections/c/index/even?wait=true", "")
	if got := e.ok("GET", "/collections/c", ""); !strings.Contains(got, `"payload_schema":{"i":{"data_type":"integer","points":6}}`) {
		t.Fatalf("collection info after index delete: %s", got)
	}
	e.fails("PUT", "/collections/c/index", `{"field_name":"i","field_schema":"vector"}`, 400, "unknown variant `vector`")
	e.fails("PUT", "/collections/c/index", `{"field_name":"i"}`, 400, "field_schema is required")
	e.fails("PUT", "/collections/c/index", `{"field_schema":"keyword"}`, 400, "missing field `field_name`")

	// Storage nodes without Info: counts come from Count, no schema.
	for _, s := range e.fc.Storage {
		s.SetNoUpdate(true)
	}
	if got := e.ok("GET", "/collections/c", ""); !strings.Contains(got, `"points_count":6`) || !strings.Contains(got, `"status":"green"`) || !strings.Contains(got, `"payload_schema":{}`) {
		t.Fatalf("collection info from storage without Info: %s", got)
	}
	e.fails("PUT", "/collections/c/index", `{"field_name":"i","field_schema":"integer"}`, 500, "not implemented")
}

func TestAliasesAndUpdateCollection(t *testing.T) {
	e := newEnv(t, rest.Options{})
	seed(e)
	e.ok("PUT", "/collections/d", `{"vectors":{"size":2,"distance":"Dot"}}`)
	e.ok("POST", "/collections/aliases", `{"actions":[{"create_alias":{"collection_name":"c","alias_name":"prod"}},{"create_alias":{"collection_name":"d","alias_name":"next"}}]}`)
	if got := e.ok("GET", "/aliases", ""); got != `{"aliases":[{"alias_name":"next","collection_name":"d"},{"alias_name":"prod","collection_name":"c"}]}` {
		t.Fatalf("list aliases: %s", got)
	}
	if got := e.ok("GET", "/collections/c/aliases", ""); got != `{"aliases":[{"alias_name":"prod","collection_name":"c"}]}` {
		t.Fatalf("collection aliases: %s", got)
	}
	// Every collection-name parameter resolves aliases.
	if got := e.ok("POST", "/collections/prod/points/count", `{}`); got != `{"count":6}` {
		t.Fatalf("count through alias: %s", got)
	}
	if got := e.ok("GET", "/collections/prod/exists", ""); got != `{"exists":true}` {
		t.Fatalf("exists through alias: %s", got)
	}
	e.ok("PUT", "/collections/prod/points?wait=true", `{"points":[{"id":100,"vector":[1,1]}]}`)
	if got := e.ok("POST", "/collections/c/points/count", `{}`); got != `{"count":7}` {
		t.Fatalf("write through alias: %s", got)
	}
	// Switch the alias atomically.
	e.ok("POST", "/collections/aliases", `{"actions":[{"delete_alias":{"alias_name":"prod"}},{"create_alias":{"collection_name":"d","alias_name":"prod"}},{"rename_alias":{"old_alias_name":"next","new_alias_name":"old"}}]}`)
	if got := e.ok("POST", "/collections/prod/points/count", `{}`); got != `{"count":0}` {
		t.Fatalf("count after switching the alias: %s", got)
	}
	e.fails("POST", "/collections/aliases", `{"actions":[{"create_alias":{"collection_name":"nope","alias_name":"x"}}]}`, 404, "Collection `nope` doesn't exist!")
	e.fails("POST", "/collections/aliases", `{"actions":[{"rename_alias":{"old_alias_name":"gone","new_alias_name":"x"}}]}`, 404, "Alias gone does not exists!")
	e.fails("POST", "/collections/aliases", `{"actions":[{"create_alias":{"alias_name":"x"}}]}`, 400, "missing field `collection_name`")
	e.fails("GET", "/collections/nope/aliases", "", 404, "doesn't exist")

	// PATCH: stored parameters show in collection info.
	e.ok("PATCH", "/collections/c", `{"optimizers_config":{"indexing_threshold":500},"hnsw_config":{"m":32},"params":{"replication_factor":2}}`)
	got := e.ok("GET", "/collections/c", "")
	if !strings.Contains(got, `"indexing_threshold":500`) || !strings.Contains(got, `"m":32`) || !strings.Contains(got, `"replication_factor":2`) {
		t.Fatalf("collection info after update: %s", got)
	}
	e.fails("PATCH", "/collections/c", `{"hnsw_config":{"ef_construct":1}}`, 422, "ef_construct")
	e.fails("PATCH", "/collections/c", `{"params":{"write_consistency_factor":5}}`, 400, "must not be greater than replication_factor")
	e.fails("PATCH", "/collections/c", `{"vectors":{"other":{"on_disk":true}}}`, 400, "Not existing vector name error: other")
	e.fails("PATCH", "/collections/c", `{"sparse_vectors":{"s":{}}}`, 400, "not supported yet")
	e.fails("PATCH", "/collections/nope", `{}`, 404, "doesn't exist")
}
