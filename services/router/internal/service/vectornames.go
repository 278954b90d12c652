package service

import (
	"context"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// maxVectorSize is the largest vector dimension, as in Qdrant.
const maxVectorSize = 65536

// CreateVectorName adds a named vector to a collection with named
// vectors (Qdrant's PUT /collections/{name}/vectors/{vector}). Meta
// stores it in the collection's config first; then the CreateVectorName
// operation goes through every shard's primary like any write, so each
// replica adds the vector space at the same point of its log. Existing
// points do not have the vector; upserts may carry it from then on.
//
// Repeating a creation with the same parameters succeeds and sends the
// operation again (replicas that have the space ignore it), so a caller
// whose earlier attempt failed half-way completes it by retrying.
func (s *Service) CreateVectorName(ctx context.Context, collection, vname string, params *shoalv1.VectorParams, wait bool) (UpdateResult, error) {
	if vname == "" {
		return UpdateResult{}, apierr.New(apierr.Validation, "Validation error in path parameters: [vector_name: must not be empty]")
	}
	if params.GetSize() < 1 || params.GetSize() > maxVectorSize {
		return UpdateResult{}, apierr.Invalid("dense.size", "value %d invalid, must be from 1 to %d", params.GetSize(), maxVectorSize)
	}
	if params.GetDistance() == shoalv1.Distance_DISTANCE_UNSPECIFIED {
		return UpdateResult{}, apierr.Format("missing field `distance`")
	}
	c, err := s.resolve(collection)
	if err != nil {
		return UpdateResult{}, err
	}
	name := c.Name()
	var rev int64
	err = s.callMeta(ctx, "create vector name", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.CreateVectorName(ctx, connect.NewRequest(&shoalv1.CreateVectorNameRequest{Collection: name, Name: vname, Params: params}))
		if err == nil {
			rev = r.Msg.GetRevision()
		}
		return err
	})
	if err != nil {
		return UpdateResult{}, err
	}
	if err := s.waitState(ctx, rev, name, "create vector name"); err != nil {
		return UpdateResult{}, err
	}
	if c, err = s.resolve(name); err != nil {
		return UpdateResult{}, err
	}
	op := &shoalv1.Operation{Kind: &shoalv1.Operation_CreateVectorName{CreateVectorName: &shoalv1.CreateVectorName{Name: vname, Params: params}}}
	return s.opt.Router.ApplyAll(ctx, c, op, wait)
}

// DeleteVectorName removes a named vector from a collection (Qdrant's
// DELETE /collections/{name}/vectors/{vector}). The DeleteVectorName
// operation goes through every shard's primary first, so every replica
// removes the vector from its points and its config at the same point of
// its log; then meta removes it from the collection's config. A failure
// in between leaves the name in the config, and a retry finishes the
// deletion (replicas without the space ignore the operation). A name the
// collection does not have is 404; the last vector, or the unnamed
// vector of a single-vector collection, is 400.
func (s *Service) DeleteVectorName(ctx context.Context, collection, vname string, wait bool) (UpdateResult, error) {
	c, err := s.resolve(collection)
	if err != nil {
		return UpdateResult{}, err
	}
	name := c.Name()
	cfg := c.Meta.GetConfig()
	if _, ok := cfg.GetVectors()[vname]; !ok {
		return UpdateResult{}, apierr.New(apierr.NotFound, "Not found: Vector name `%s` does not exist in collection `%s`", vname, name)
	}
	if !cfg.GetNamed() || len(cfg.GetVectors()) == 1 {
		return UpdateResult{}, apierr.BadInput("cannot delete `%s`, the last vector of collection `%s`", vname, name)
	}
	op := &shoalv1.Operation{Kind: &shoalv1.Operation_DeleteVectorName{DeleteVectorName: &shoalv1.DeleteVectorName{Name: vname}}}
	res, err := s.opt.Router.ApplyAll(ctx, c, op, wait)
	if err != nil {
		return UpdateResult{}, err
	}
	var rev int64
	err = s.callMeta(ctx, "delete vector name", func(cl shoalv1connect.MetaServiceClient) error {
		r, err := cl.DeleteVectorName(ctx, connect.NewRequest(&shoalv1.DeleteVectorNameRequest{Collection: name, Name: vname}))
		if err == nil {
			rev = r.Msg.GetRevision()
		}
		return err
	})
	if err != nil {
		return UpdateResult{}, err
	}
	if err := s.waitState(ctx, rev, name, "delete vector name"); err != nil {
		return UpdateResult{}, err
	}
	// Shards created meanwhile (a new shard key) were opened with the
	// config that still had the vector: they get the operation too.
	sent := map[uint32]bool{}
	for _, sh := range c.Map.GetShards() {
		sent[sh.GetId()] = true
	}
	if now, err := s.resolve(name); err == nil {
		late := map[uint32]*shoalv1.Operation{}
		for _, sh := range now.Map.GetShards() {
			if !sent[sh.GetId()] {
				late[sh.GetId()] = op
			}
		}
		if len(late) > 0 {
			if _, err := s.opt.Router.Apply(ctx, now, late, wait); err != nil {
				return UpdateResult{}, err
			}
		}
	}
	return res, nil
}

// waitState waits (at most SettleTimeout) until this router's cluster
// state has reached revision rev (0: nothing to wait for). Not catching
// up in time is logged, not an error: the change is stored.
func (s *Service) waitState(ctx context.Context, rev int64, collection, what string) error {
	if rev <= 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.opt.SettleTimeout)
	defer cancel()
	if err := s.opt.State.WaitRevision(wctx, rev); err != nil {
		if ctx.Err() != nil {
			return apierr.FromConnect(ctx.Err(), what)
		}
		s.opt.Log.Warn().Err(err).Str("collection", collection).Str("op", what).Msg("cluster state did not catch up with the change; answering anyway")
	}
	return nil
}
