package service

import (
	"context"
	"slices"
	"strings"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// AliasAction is one step of an alias update: exactly one of the members
// is set.
type AliasAction struct {
	// Create points Alias at Collection (replacing what Alias named).
	Create *AliasDescription
	// Delete removes an alias (no error when it does not exist).
	Delete *string
	// Rename moves alias Old to New.
	Rename *AliasRename
}

// AliasDescription is an alias and the collection it names.
type AliasDescription struct {
	Alias      string
	Collection string
}

// AliasRename renames an alias.
type AliasRename struct {
	Old, New string
}

// UpdateAliases applies the actions atomically (meta writes them in one
// etcd transaction) and waits until this router's alias table shows the
// result.
func (s *Service) UpdateAliases(ctx context.Context, actions []AliasAction) error {
	req := &shoalv1.UpdateAliasesRequest{}
	for _, a := range actions {
		var act shoalv1.AliasAction
		switch {
		case a.Create != nil:
			act.Action = &shoalv1.AliasAction_CreateAlias{CreateAlias: &shoalv1.CreateAlias{AliasName: a.Create.Alias, CollectionName: a.Create.Collection}}
		case a.Delete != nil:
			act.Action = &shoalv1.AliasAction_DeleteAlias{DeleteAlias: &shoalv1.DeleteAlias{AliasName: *a.Delete}}
		case a.Rename != nil:
			act.Action = &shoalv1.AliasAction_RenameAlias{RenameAlias: &shoalv1.RenameAlias{OldAliasName: a.Rename.Old, NewAliasName: a.Rename.New}}
		default:
			return apierr.Format("an alias action must be one of `create_alias`, `delete_alias`, `rename_alias`")
		}
		req.Actions = append(req.Actions, &act)
	}
	var rev int64
	err := s.callMeta(ctx, "update aliases", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.UpdateAliases(ctx, connect.NewRequest(req))
		if err == nil {
			rev = r.Msg.GetRevision()
		}
		return err
	})
	if err != nil {
		return err
	}
	if rev > 0 && s.opt.Aliases != nil {
		wctx, cancel := context.WithTimeout(ctx, s.opt.SettleTimeout)
		defer cancel()
		if err := s.opt.Aliases.WaitRevision(wctx, rev); err != nil {
			s.opt.Log.Warn().Err(err).Msg("alias table did not catch up; answering anyway")
		}
	}
	return nil
}

// ListAliases returns every alias, or those of one collection (collection
// not empty; it must exist), sorted by alias name.
func (s *Service) ListAliases(collection string) ([]AliasDescription, error) {
	if collection != "" {
		if _, _, ok := s.opt.State.Collection(collection); !ok {
			return nil, apierr.CollectionNotFound(collection)
		}
	}
	out := []AliasDescription{}
	if s.opt.Aliases == nil {
		return out, nil
	}
	for a, c := range s.opt.Aliases.All() {
		if collection == "" || c == collection {
			out = append(out, AliasDescription{Alias: a, Collection: c})
		}
	}
	slices.SortFunc(out, func(x, y AliasDescription) int { return strings.Compare(x.Alias, y.Alias) })
	return out, nil
}
