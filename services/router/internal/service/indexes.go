package service

import (
	"context"
	"encoding/json"
	"slices"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// PayloadSchemaTypes are Qdrant's payload index types.
var PayloadSchemaTypes = []string{"keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid"}

// CreateFieldIndex creates a payload index on every shard. schema is
// Qdrant's field_schema: a type name ("keyword", …) or an object with
// "type" and the type's parameters; it is required (Shoal does not infer
// a type from the data).
func (s *Service) CreateFieldIndex(ctx context.Context, collection, field string, schema json.RawMessage, wait bool) (UpdateResult, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return UpdateResult{}, err
	}
	if field == "" {
		return UpdateResult{}, apierr.Invalid("field_name", "must not be empty")
	}
	schema, err = checkFieldSchema(schema)
	if err != nil {
		return UpdateResult{}, err
	}
	op := &shoalv1.Operation{Kind: &shoalv1.Operation_CreateFieldIndex{CreateFieldIndex: &shoalv1.CreateFieldIndex{Field: field, SchemaJson: schema}}}
	return s.opt.Router.ApplyAll(ctx, c, op, wait)
}

// DeleteFieldIndex drops a payload index on every shard.
func (s *Service) DeleteFieldIndex(ctx context.Context, collection, field string, wait bool) (UpdateResult, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return UpdateResult{}, err
	}
	if field == "" {
		return UpdateResult{}, apierr.Invalid("field_name", "must not be empty")
	}
	op := &shoalv1.Operation{Kind: &shoalv1.Operation_DeleteFieldIndex{DeleteFieldIndex: &shoalv1.DeleteFieldIndex{Field: field}}}
	return s.opt.Router.ApplyAll(ctx, c, op, wait)
}

// checkFieldSchema validates a field_schema's type and returns it
// compacted. The type's parameters are checked by the storage nodes.
func checkFieldSchema(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, apierr.BadInput("field_schema is required: Shoal does not infer the index type from the data")
	}
	var name string
	if json.Unmarshal(raw, &name) != nil {
		var obj struct {
			Type *string `json:"type"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, apierr.Format("field_schema: expected a type name or an object with `type`")
		}
		if obj.Type == nil {
			return nil, apierr.Format("field_schema: missing field `type`")
		}
		name = *obj.Type
	}
	if !slices.Contains(PayloadSchemaTypes, name) {
		return nil, apierr.Format("field_schema: unknown variant `%s`, expected one of %s", name, quoted(PayloadSchemaTypes))
	}
	return compact(raw), nil
}

func quoted(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += "`" + n + "`"
	}
	return out
}
