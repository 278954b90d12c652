package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// Aliases is an in-memory alias table (service.Aliases); the fake meta's
// UpdateAliases changes it synchronously.
type Aliases struct {
	mu sync.Mutex
	m  map[string]string
}

// Resolve implements service.Aliases.
func (a *Aliases) Resolve(alias string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.m[alias]
	return c, ok
}

// All implements service.Aliases.
func (a *Aliases) All() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.m)
}

// WaitRevision implements service.Aliases: the fake is always current.
func (a *Aliases) WaitRevision(context.Context, int64) error { return nil }

// WaitRevision implements service.State: the fake is always current.
func (s *State) WaitRevision(context.Context, int64) error { return nil }

// Changed implements service.Aliases: the fake changes synchronously, so
// the channel never needs to fire.
func (a *Aliases) Changed() <-chan struct{} { return make(chan struct{}) }

// UpdateAliases applies the actions all or nothing, like meta.
func (m metaAPI) UpdateAliases(_ context.Context, req *connect.Request[shoalv1.UpdateAliasesRequest]) (*connect.Response[shoalv1.UpdateAliasesResponse], error) {
	a := m.c.Aliases
	a.mu.Lock()
	defer a.mu.Unlock()
	next := maps.Clone(a.m)
	if next == nil {
		next = map[string]string{}
	}
	for _, act := range req.Msg.Actions {
		switch x := act.Action.(type) {
		case *shoalv1.AliasAction_CreateAlias:
			if _, _, ok := m.c.State.Collection(x.CreateAlias.CollectionName); !ok {
				return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", x.CreateAlias.CollectionName))
			}
			next[x.CreateAlias.AliasName] = x.CreateAlias.CollectionName
		case *shoalv1.AliasAction_DeleteAlias:
			delete(next, x.DeleteAlias.AliasName)
		case *shoalv1.AliasAction_RenameAlias:
			c, ok := next[x.RenameAlias.OldAliasName]
			if !ok {
				return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Alias %s does not exists!", x.RenameAlias.OldAliasName))
			}
			delete(next, x.RenameAlias.OldAliasName)
			next[x.RenameAlias.NewAliasName] = c
		}
	}
	a.m = next
	return connect.NewResponse(&shoalv1.UpdateAliasesResponse{Revision: 1}), nil
}

// UpdateCollection applies the update to the stored collection; the extra
// JSON patch is merged one level deep (enough for the tests).
func (m metaAPI) UpdateCollection(_ context.Context, req *connect.Request[shoalv1.UpdateCollectionRequest]) (*connect.Response[shoalv1.UpdateCollectionResponse], error) {
	old, sm, ok := m.c.State.Collection(req.Msg.Name)
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Collection `%s` doesn't exist!", req.Msg.Name))
	}
	c := proto.Clone(old).(*shoalv1.Collection)
	if len(req.Msg.ExtraPatchJson) > 0 {
		extra := map[string]map[string]any{}
		_ = json.Unmarshal(c.Config.ExtraJson, &extra)
		var patch map[string]map[string]any
		if err := json.Unmarshal(req.Msg.ExtraPatchJson, &patch); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		for k, diff := range patch {
			if diff == nil {
				delete(extra, k)
				continue
			}
			if extra[k] == nil {
				extra[k] = map[string]any{}
			}
			for f, v := range diff {
				extra[k][f] = v
			}
		}
		c.Config.ExtraJson, _ = json.Marshal(extra)
	}
	if req.Msg.ReplicationFactor != nil {
		c.Config.ReplicationFactor = *req.Msg.ReplicationFactor
	}
	if req.Msg.WriteConsistencyFactor != nil {
		c.Config.WriteConsistencyFactor = *req.Msg.WriteConsistencyFactor
	}
	if req.Msg.OnDiskPayload != nil {
		c.Config.OnDiskPayload = *req.Msg.OnDiskPayload
	}
	m.c.State.PutCollection(c, sm)
	return connect.NewResponse(&shoalv1.UpdateCollectionResponse{Collection: c, Revision: 1}), nil
}
