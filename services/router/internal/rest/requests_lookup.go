package rest

import (
	"bytes"
	"encoding/json"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Decoders of lookup_from (LookupLocation) and with_lookup
// (WithLookupInterface).

// lookupFrom decodes the optional lookup_from member: {"collection",
// "vector", "shard_key"}.
func lookupFrom(f fields) (*service.LookupLocation, error) {
	if !f.present("lookup_from") {
		return nil, nil
	}
	lf, err := members(f["lookup_from"], "lookup_from", "collection", "vector", "shard_key")
	if err != nil {
		return nil, err
	}
	sel, err := shardKeySelector(lf)
	if err != nil {
		return nil, err
	}
	name, err := lf.stringField("collection")
	if err != nil {
		return nil, err
	}
	if name == nil {
		return nil, apierr.Format("lookup_from: missing field `collection`")
	}
	l := &service.LookupLocation{Collection: *name, ShardKey: sel}
	if v, err := lf.stringField("vector"); err != nil {
		return nil, err
	} else if v != nil {
		l.Vector = *v
	}
	return l, nil
}

// withLookup decodes the optional with_lookup member: a collection name,
// or {"collection", "with_payload" (default true), "with_vectors"
// (default false)}.
func withLookup(f fields) (*service.WithLookup, error) {
	if !f.present("with_lookup") {
		return nil, nil
	}
	raw := bytes.TrimSpace(f["with_lookup"])
	if raw[0] == '"' {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return nil, apierr.Format("with_lookup: %v", err)
		}
		return &service.WithLookup{Collection: name, Read: service.ReadOptions{Payload: service.AllPayload}}, nil
	}
	wf, err := members(raw, "with_lookup", "collection", "with_payload", "with_vectors")
	if err != nil {
		return nil, err
	}
	name, err := wf.stringField("collection")
	if err != nil {
		return nil, err
	}
	if name == nil {
		return nil, apierr.Format("with_lookup: missing field `collection`")
	}
	read, err := readOptions(fields{"with_payload": wf["with_payload"], "with_vector": wf["with_vectors"]}, true, false)
	if err != nil {
		return nil, err
	}
	return &service.WithLookup{Collection: *name, Read: read}, nil
}
