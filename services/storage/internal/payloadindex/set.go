// Package payloadindex holds a replica's payload indexes (keyword,
// integer, float, bool, datetime, uuid, geo, text) and the planner that
// uses them to narrow a filter to candidate points.
//
// Every index keeps, per point, the values it indexed, so besides
// estimating and listing candidates it answers a condition for a single
// point exactly as evaluating the condition over the payload would; the
// filter package uses that (filter.Indexes) to skip decoding payloads.
//
// Concurrency: reads may run concurrently with each other; writes must be
// exclusive of everything else (the replica's lock provides that).
package payloadindex

import (
	"encoding/json"
	"sort"

	"github.com/shoaldb/shoal/services/storage/internal/filter"
)

// Set is a replica's payload indexes, by key.
type Set struct {
	fields map[string]*Field
}

var _ filter.Indexes = (*Set)(nil)

// New returns an empty set.
func New() *Set { return &Set{fields: map[string]*Field{}} }

// Install adds f, replacing an index on the same key. f is expected to be
// filled already (built from the points it must hold).
func (s *Set) Install(f *Field) { s.fields[f.name] = f }

// Drop removes the index on key (Path.String()); it reports whether there
// was one.
func (s *Set) Drop(key string) bool {
	_, ok := s.fields[key]
	delete(s.fields, key)
	return ok
}

// Field returns the index on key (Path.String()).
func (s *Set) Field(key string) (*Field, bool) {
	f, ok := s.fields[key]
	return f, ok
}

// Len is the number of indexes.
func (s *Set) Len() int { return len(s.fields) }

// Update indexes the point key's payload in every index.
func (s *Set) Update(key string, payload map[string]any) {
	for _, f := range s.fields {
		f.Set(key, payload)
	}
}

// Remove forgets the point key in every index.
func (s *Set) Remove(key string) {
	for _, f := range s.fields {
		f.Remove(key)
	}
}

// Checker implements filter.Indexes.
func (s *Set) Checker(fc *filter.FieldCondition) func(string) bool {
	f, ok := s.fields[fc.Key.String()]
	if !ok {
		return nil
	}
	a, ok := f.answer(fc)
	if !ok {
		return nil
	}
	return a.check
}

// Tokenizer implements filter.Indexes.
func (s *Set) Tokenizer(path string) *filter.Tokenizer {
	f, ok := s.fields[path]
	if !ok || f.text == nil {
		return nil
	}
	tok := f.text.tok
	return &tok
}

// Info is one entry of Qdrant's payload_schema.
type Info struct {
	DataType Type            `json:"data_type"`
	Params   json.RawMessage `json:"params,omitempty"`
	Points   int             `json:"points"`
}

// PayloadSchema returns Qdrant's payload_schema: key -> {data_type,
// params (when the schema was given as an object), points}.
func (s *Set) PayloadSchema() map[string]Info {
	out := make(map[string]Info, len(s.fields))
	for name, f := range s.fields {
		out[name] = Info{DataType: f.schema.Type, Params: f.schema.Params, Points: f.Points()}
	}
	return out
}

// Keys lists the indexed keys in order.
func (s *Set) Keys() []string {
	out := make([]string, 0, len(s.fields))
	for k := range s.fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
