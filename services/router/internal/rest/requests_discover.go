package rest

import (
	"bytes"
	"encoding/json"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// Decoders of the discovery and context queries (query API) and of the
// legacy discovery requests.

// discoverInput decodes DiscoverInput: a target and context pairs.
func discoverInput(raw json.RawMessage) (*service.Discover, error) {
	f, err := members(raw, "query.discover", "target", "context")
	if err != nil {
		return nil, err
	}
	if !f.present("target") {
		return nil, apierr.Format("query.discover: missing field `target`")
	}
	if _, ok := f["context"]; !ok {
		return nil, apierr.Format("query.discover: missing field `context`")
	}
	d := &service.Discover{}
	v, id, err := vectorInput(f["target"])
	if err != nil {
		return nil, err
	}
	d.Target = &service.VectorInput{Vector: v, ID: id}
	if d.Context, err = contextInput(f["context"], "query.discover.context"); err != nil {
		return nil, err
	}
	return d, nil
}

// contextInput decodes ContextInput: one ContextPair, a list of them, or
// null (none).
func contextInput(raw json.RawMessage, what string) ([]service.ContextPair, error) {
	t := bytes.TrimSpace(raw)
	if isNull(t) {
		return nil, nil
	}
	elems := []json.RawMessage{t}
	if t[0] == '[' {
		if err := json.Unmarshal(t, &elems); err != nil {
			return nil, apierr.Format("%s: %v", what, err)
		}
	}
	out := make([]service.ContextPair, len(elems))
	for i, e := range elems {
		f, err := members(e, what, "positive", "negative")
		if err != nil {
			return nil, err
		}
		for _, k := range []string{"positive", "negative"} {
			if !f.present(k) {
				return nil, apierr.Format("%s: missing field `%s`", what, k)
			}
		}
		if out[i].Positive.Vector, out[i].Positive.ID, err = vectorInput(f["positive"]); err != nil {
			return nil, err
		}
		if out[i].Negative.Vector, out[i].Negative.ID, err = vectorInput(f["negative"]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var discoverFields = []string{"shard_key", "target", "context", "filter", "params", "limit", "offset", "with_payload", "with_vector", "using", "lookup_from"}

// decodeDiscover decodes the legacy DiscoverRequest (Qdrant's
// /points/discover) into a discovery query, or a context query when
// target is absent: limit is required, context a list of pairs,
// with_payload and with_vector default to false.
func decodeDiscover(body []byte) (service.QueryRequest, error) {
	f, err := object(body, false, discoverFields...)
	if err != nil {
		return service.QueryRequest{}, err
	}
	return discoverRequest(f)
}

func discoverRequest(f fields) (service.QueryRequest, error) {
	var req service.QueryRequest
	if !f.present("limit") {
		return req, apierr.Format("missing field `limit`")
	}
	d := &service.Discover{}
	if f.present("target") {
		v, id, err := vectorInput(f["target"])
		if err != nil {
			return req, err
		}
		d.Target = &service.VectorInput{Vector: v, ID: id}
	}
	if f.present("context") && bytes.TrimSpace(f["context"])[0] != '[' {
		return req, apierr.Format("context: expected a list of pairs, got %s", kindOf(f["context"]))
	}
	var err error
	if d.Context, err = contextInput(f["context"], "context"); err != nil {
		return req, err
	}
	delete(f, "target")
	delete(f, "context")
	if req, err = queryRequest(f); err != nil {
		return req, err
	}
	req.Discover = d
	return req, nil
}

// decodeDiscoverBatch decodes DiscoverRequestBatch.
func decodeDiscoverBatch(body []byte) ([]service.QueryRequest, error) {
	return batch(body, discoverRequest, discoverFields...)
}
