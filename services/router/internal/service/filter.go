package service

import (
	"bytes"
	"encoding/json"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// checkFilter normalises a Qdrant filter: absent or null is nil, anything
// else must be a JSON object (its conditions are checked by the storage
// nodes, which evaluate it). It is returned compacted.
func checkFilter(raw json.RawMessage) ([]byte, error) {
	return checkFilterAt(raw, "filter")
}

// checkFilterAt is checkFilter for a filter in the request member what.
func checkFilterAt(raw json.RawMessage, what string) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if t[0] != '{' {
		return nil, apierr.Format("%s: expected an object", what)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, apierr.Format("%s: %v", what, err)
	}
	return b.Bytes(), nil
}

// checkSelector validates a point selector and returns its filter (nil
// for selection by ids).
func checkSelector(sel PointSelector) ([]byte, error) {
	f, err := checkFilter(sel.Filter)
	if err != nil {
		return nil, err
	}
	if f != nil && len(sel.IDs) > 0 {
		return nil, apierr.Format("expected either `points` or `filter`, not both")
	}
	for _, id := range sel.IDs {
		if id == nil || id.GetKind() == nil {
			return nil, apierr.Format("points: missing point id")
		}
	}
	return f, nil
}
