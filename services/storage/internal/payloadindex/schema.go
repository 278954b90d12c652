package payloadindex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/shoaldb/shoal/services/storage/internal/filter"
)

// Type is a payload index type, named as in Qdrant's PayloadSchemaType.
type Type string

const (
	Keyword  Type = "keyword"
	Integer  Type = "integer"
	Float    Type = "float"
	Bool     Type = "bool"
	Datetime Type = "datetime"
	UUID     Type = "uuid"
	Geo      Type = "geo"
	Text     Type = "text"
)

var types = map[Type]bool{Keyword: true, Integer: true, Float: true, Bool: true, Datetime: true, UUID: true, Geo: true, Text: true}

// SchemaError is a field schema that cannot be parsed; servers map it to
// InvalidArgument.
type SchemaError struct{ Msg string }

func (e *SchemaError) Error() string { return e.Msg }

// Schema is a field index's configuration, Qdrant's PayloadFieldSchema:
// either a bare type name (`"keyword"`) or an object with a `type` and
// parameters (`{"type": "text", "tokenizer": "word", "lowercase": true}`).
type Schema struct {
	Type Type
	// Params is the object form exactly as given (nil for a bare name);
	// it is reported back as the index's params.
	Params json.RawMessage
	// Tokenizer configures a text index (tokenizer, lowercase,
	// min_token_len, max_token_len).
	Tokenizer filter.Tokenizer
	// Lookup and Range are an integer index's capabilities (both default
	// true): match conditions need Lookup, range conditions and order_by
	// need Range.
	Lookup, Range bool
}

// ParseSchema parses schema_json: `"keyword"` | `{"type":"keyword", ...}`.
// Unknown parameters of the object form are kept and reported but have no
// effect (is_tenant, on_disk, memory, is_principal, enable_hnsw, prefix,
// ascii_folding, phrase_matching, stopwords, stemmer). Text tokenizers
// "word" (default), "whitespace", "prefix" and "multilingual" are
// accepted; the last two tokenize like "word".
func ParseSchema(raw []byte) (Schema, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Schema{}, &SchemaError{Msg: "Bad request: field_schema is required to create a field index"}
	}
	s := Schema{Lookup: true, Range: true, Tokenizer: filter.DefaultTokenizer}
	if raw[0] == '"' {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return Schema{}, &SchemaError{Msg: fmt.Sprintf("Format error in JSON body: field_schema: %v", err)}
		}
		if !types[Type(name)] {
			return Schema{}, unknownType(name)
		}
		s.Type = Type(name)
		return s, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return Schema{}, &SchemaError{Msg: "Format error in JSON body: field_schema must be a type name or an object with a \"type\""}
	}
	var name string
	if err := json.Unmarshal(obj["type"], &name); err != nil {
		return Schema{}, &SchemaError{Msg: "Format error in JSON body: field_schema.type must be one of keyword, integer, float, bool, datetime, uuid, geo, text"}
	}
	if !types[Type(name)] {
		return Schema{}, unknownType(name)
	}
	s.Type = Type(name)
	compact := &bytes.Buffer{}
	if err := json.Compact(compact, raw); err != nil {
		return Schema{}, &SchemaError{Msg: fmt.Sprintf("Format error in JSON body: field_schema: %v", err)}
	}
	s.Params = compact.Bytes()
	if err := s.readParams(obj); err != nil {
		return Schema{}, err
	}
	return s, nil
}

func unknownType(name string) error {
	return &SchemaError{Msg: fmt.Sprintf("Format error in JSON body: unknown field_schema type %q, expected one of keyword, integer, float, bool, datetime, uuid, geo, text", name)}
}

// readParams reads the parameters that change behaviour.
func (s *Schema) readParams(obj map[string]json.RawMessage) error {
	boolParam := func(name string, dst *bool) error {
		raw, ok := obj[name]
		if !ok || string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return &SchemaError{Msg: fmt.Sprintf("Format error in JSON body: field_schema.%s must be a boolean", name)}
		}
		return nil
	}
	uintParam := func(name string, dst *int) error {
		raw, ok := obj[name]
		if !ok || string(raw) == "null" {
			return nil
		}
		n, err := strconv.ParseUint(string(raw), 10, 31)
		if err != nil {
			return &SchemaError{Msg: fmt.Sprintf("Format error in JSON body: field_schema.%s must be a non-negative integer", name)}
		}
		*dst = int(n)
		return nil
	}
	switch s.Type {
	case Integer:
		if err := boolParam("lookup", &s.Lookup); err != nil {
			return err
		}
		if err := boolParam("range", &s.Range); err != nil {
			return err
		}
		if !s.Lookup && !s.Range {
			return &SchemaError{Msg: "Bad request: the lookup and range capabilities of an integer index cannot both be disabled"}
		}
	case Text:
		if raw, ok := obj["tokenizer"]; ok && string(raw) != "null" {
			var tok string
			if err := json.Unmarshal(raw, &tok); err != nil {
				return &SchemaError{Msg: "Format error in JSON body: field_schema.tokenizer must be one of prefix, whitespace, word, multilingual"}
			}
			switch tok {
			case "whitespace":
				s.Tokenizer.Whitespace = true
			case "word", "prefix", "multilingual":
			default:
				return &SchemaError{Msg: fmt.Sprintf("Format error in JSON body: unknown tokenizer %q, expected one of prefix, whitespace, word, multilingual", tok)}
			}
		}
		if err := boolParam("lowercase", &s.Tokenizer.Lowercase); err != nil {
			return err
		}
		if err := uintParam("min_token_len", &s.Tokenizer.MinLen); err != nil {
			return err
		}
		if err := uintParam("max_token_len", &s.Tokenizer.MaxLen); err != nil {
			return err
		}
	}
	return nil
}

// JSON returns the schema as stored and as schema_json: the object form as
// given, or the bare type name.
func (s Schema) JSON() []byte {
	if s.Params != nil {
		return s.Params
	}
	b, _ := json.Marshal(string(s.Type))
	return b
}

// Equal reports whether two schemas configure the same index.
func (s Schema) Equal(o Schema) bool {
	return bytes.Equal(s.JSON(), o.JSON())
}
