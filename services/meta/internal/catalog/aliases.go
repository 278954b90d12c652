package catalog

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MaxAliasActions bounds one UpdateAliases request (each action may touch
// two keys; etcd's default transaction limit is 128 operations).
const MaxAliasActions = 50

// UpdateAliases applies the actions in order, all or nothing, as Qdrant
// does: create_alias points an alias at an existing collection (replacing
// what it named before; no collection may have the alias's name),
// delete_alias removes an alias if it exists, rename_alias moves an
// existing alias to a new name. The outcome is written in one etcd
// transaction guarded on every key the actions read, retried when another
// request changed one of them in between.
func (s *Service) UpdateAliases(ctx context.Context, req *connect.Request[shoalv1.UpdateAliasesRequest]) (*connect.Response[shoalv1.UpdateAliasesResponse], error) {
	actions := req.Msg.GetActions()
	if len(actions) > MaxAliasActions {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Wrong input: at most %d alias actions per request, got %d", MaxAliasActions, len(actions)))
	}
	for _, a := range actions {
		if err := validateAliasAction(a); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
	}
	for {
		plan, err := s.planAliases(ctx, actions)
		if err != nil {
			return nil, err
		}
		if len(plan.ops) == 0 {
			return connect.NewResponse(&shoalv1.UpdateAliasesResponse{}), nil
		}
		resp, err := s.cli.Txn(ctx).If(plan.guards...).Then(plan.ops...).Commit()
		if err != nil {
			return nil, storeError(ctx, "update aliases", err)
		}
		if resp.Succeeded {
			s.log.Info().Int("actions", len(actions)).Int64("revision", resp.Header.Revision).Msg("aliases updated")
			return connect.NewResponse(&shoalv1.UpdateAliasesResponse{Revision: resp.Header.Revision}), nil
		}
		// A key we read changed since: plan again on the new state.
	}
}

func validateAliasAction(a *shoalv1.AliasAction) error {
	switch act := a.GetAction().(type) {
	case *shoalv1.AliasAction_CreateAlias:
		if err := validateAliasName(act.CreateAlias.GetAliasName()); err != nil {
			return err
		}
		return ValidateName(act.CreateAlias.GetCollectionName())
	case *shoalv1.AliasAction_DeleteAlias:
		return validateAliasName(act.DeleteAlias.GetAliasName())
	case *shoalv1.AliasAction_RenameAlias:
		if err := validateAliasName(act.RenameAlias.GetOldAliasName()); err != nil {
			return err
		}
		return validateAliasName(act.RenameAlias.GetNewAliasName())
	}
	return fmt.Errorf("Format error in JSON body: an alias action must be one of create_alias, delete_alias, rename_alias")
}

// validateAliasName applies the collection-name rules to an alias, which
// becomes part of an etcd key the same way.
func validateAliasName(name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("%s", strings.Replace(err.Error(), "collection name", "alias name", 1))
	}
	return nil
}

// aliasPlan is the transaction that applies a list of alias actions.
type aliasPlan struct {
	guards []clientv3.Cmp
	ops    []clientv3.Op
}

// planAliases reads the keys the actions depend on, simulates the actions
// and returns the writes with guards on every key read (its mod revision
// as read; 0 for a key that did not exist).
func (s *Service) planAliases(ctx context.Context, actions []*shoalv1.AliasAction) (aliasPlan, error) {
	// Read every alias and collection key the actions name, at one revision.
	aliasNames, collNames := map[string]bool{}, map[string]bool{}
	for _, a := range actions {
		switch act := a.GetAction().(type) {
		case *shoalv1.AliasAction_CreateAlias:
			aliasNames[act.CreateAlias.GetAliasName()] = true
			collNames[act.CreateAlias.GetCollectionName()] = true
			collNames[act.CreateAlias.GetAliasName()] = true
		case *shoalv1.AliasAction_DeleteAlias:
			aliasNames[act.DeleteAlias.GetAliasName()] = true
		case *shoalv1.AliasAction_RenameAlias:
			aliasNames[act.RenameAlias.GetOldAliasName()] = true
			aliasNames[act.RenameAlias.GetNewAliasName()] = true
		}
	}
	var keys []string
	for a := range aliasNames {
		keys = append(keys, cluster.AliasKey(a))
	}
	for c := range collNames {
		keys = append(keys, cluster.CollectionKey(c))
	}
	gets := make([]clientv3.Op, len(keys))
	for i, k := range keys {
		gets[i] = clientv3.OpGet(k)
	}
	snap, err := s.cli.Txn(ctx).Then(gets...).Commit()
	if err != nil {
		return aliasPlan{}, storeError(ctx, "read aliases", err)
	}
	var plan aliasPlan
	before := map[string]string{} // alias → collection, as stored
	colls := map[string]bool{}
	for i, k := range keys {
		var rev int64
		if kvs := snap.Responses[i].GetResponseRange().GetKvs(); len(kvs) > 0 {
			rev = kvs[0].ModRevision
			if name, ok := strings.CutPrefix(k, cluster.AliasesPrefix); ok {
				before[name] = string(kvs[0].Value)
			} else {
				colls[strings.TrimPrefix(k, cluster.CollectionsPrefix)] = true
			}
		}
		plan.guards = append(plan.guards, clientv3.Compare(clientv3.ModRevision(k), "=", rev))
	}

	after := map[string]string{}
	for a, c := range before {
		after[a] = c
	}
	for _, a := range actions {
		switch act := a.GetAction().(type) {
		case *shoalv1.AliasAction_CreateAlias:
			alias, coll := act.CreateAlias.GetAliasName(), act.CreateAlias.GetCollectionName()
			if !colls[coll] {
				return aliasPlan{}, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", coll))
			}
			if colls[alias] {
				return aliasPlan{}, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("Collection `%s` already exists!", alias))
			}
			after[alias] = coll
		case *shoalv1.AliasAction_DeleteAlias:
			delete(after, act.DeleteAlias.GetAliasName())
		case *shoalv1.AliasAction_RenameAlias:
			old, renamed := act.RenameAlias.GetOldAliasName(), act.RenameAlias.GetNewAliasName()
			coll, ok := after[old]
			if !ok {
				return aliasPlan{}, connect.NewError(connect.CodeNotFound, fmt.Errorf("Alias %s does not exists!", old))
			}
			delete(after, old)
			after[renamed] = coll
		}
	}
	for a := range aliasNames {
		b, had := before[a]
		n, has := after[a]
		switch {
		case has && (!had || b != n):
			plan.ops = append(plan.ops, clientv3.OpPut(cluster.AliasKey(a), n))
		case had && !has:
			plan.ops = append(plan.ops, clientv3.OpDelete(cluster.AliasKey(a)))
		}
	}
	return plan, nil
}

// aliasesOf returns the keys of the aliases that name collection, and the
// guards that keep them unchanged: collection deletion removes them in the
// same transaction.
func (s *Service) aliasesOf(ctx context.Context, collection string) ([]string, []clientv3.Cmp, error) {
	resp, err := s.cli.Get(ctx, cluster.AliasesPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, storeError(ctx, "read aliases", err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		if string(kv.Value) == collection {
			keys = append(keys, string(kv.Key))
		}
	}
	// No alias may have been created or changed since the read: the newest
	// modification under the prefix is at most the read's revision.
	guards := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(cluster.AliasesPrefix), "<", resp.Header.Revision+1).WithPrefix()}
	return keys, guards, nil
}
