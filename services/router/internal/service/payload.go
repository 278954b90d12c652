package service

import (
	"bytes"
	"encoding/json"
	"strings"
)

// selectPayload returns the part of a stored payload (a JSON object, or
// empty for none) that sel selects, as a JSON object. Without Include or
// Exclude it returns the payload unchanged ("{}" for none). Paths are
// dotted ("a.b" is field b of object a); a path that does not exist is
// ignored.
func selectPayload(raw []byte, sel PayloadSelector) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return json.RawMessage("{}")
	}
	if sel.Include == nil && len(sel.Exclude) == 0 {
		return json.RawMessage(raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as stored
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return json.RawMessage(raw)
	}
	if sel.Include != nil {
		kept := map[string]any{}
		for _, path := range sel.Include {
			copyPath(kept, obj, strings.Split(path, "."))
		}
		obj = kept
	}
	for _, path := range sel.Exclude {
		deletePath(obj, strings.Split(path, "."))
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return json.RawMessage(raw)
	}
	return out
}

// copyPath copies src's value at path into dst, creating the objects on
// the way.
func copyPath(dst, src map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return
	}
	next, ok := dst[path[0]].(map[string]any)
	if !ok {
		next = map[string]any{}
	}
	copyPath(next, sub, path[1:])
	if len(next) > 0 {
		dst[path[0]] = next
	}
}

// deletePath removes the value at path from obj.
func deletePath(obj map[string]any, path []string) {
	if len(path) == 1 {
		delete(obj, path[0])
		return
	}
	if sub, ok := obj[path[0]].(map[string]any); ok {
		deletePath(sub, path[1:])
	}
}
