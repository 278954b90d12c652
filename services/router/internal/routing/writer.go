package routing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// WriteOp is one shard's part of a write: exactly one of Upsert, Delete
// and Op is set. Upsert and Delete use the storage's Upsert and
// DeletePoints calls; Op (any other operation: payload, vectors, deletion
// by filter, field indexes) uses its general Update call.
type WriteOp struct {
	Upsert []*shoalv1.Point
	Delete []*shoalv1.PointID
	Op     *shoalv1.Operation
	// Wait asks for the write to be applied and durable before the answer.
	Wait bool
}

// ShardWriter applies one shard's part of a write and returns the shard's
// answer. The PrimaryWriter is the router's; tests may supply their own.
type ShardWriter interface {
	Write(ctx context.Context, c *Collection, shard *shoalv1.Shard, op WriteOp) (*shoalv1.UpdateResponse, error)
}

// ReplicaClients looks up the client of a replica's node; *Router
// implements it.
type ReplicaClients interface {
	ReplicaClient(nodeID uint64) (shoalv1connect.StorageServiceClient, error)
}

// MapWatcher is the watched cluster state a writer re-resolves shard maps
// from; *cluster.State implements it.
type MapWatcher interface {
	Collection(name string) (*shoalv1.Collection, *shoalv1.ShardMap, bool)
	// Changed returns a channel closed at the state's next change.
	Changed() <-chan struct{}
}

// The error metadata a storage node sets on the refusals the writer acts
// on (header ErrorKindHeader of the Connect error).
const (
	ErrorKindHeader = "Shoal-Error-Kind"
	// KindNotPrimary (with FailedPrecondition): the node is not the
	// shard's primary at the term the write carries.
	KindNotPrimary = "not-primary"
	// KindWriteConsistency (with Unavailable): fewer replicas than the
	// collection's write_consistency_factor hold the write.
	KindWriteConsistency = "write-consistency"
	// KindNoLease (with Unavailable): the primary cannot confirm its lease
	// with meta and coordinates no write until it can.
	KindNoLease = "no-lease"
	// KindPointNotFound (with NotFound): the operation names a point the
	// replica does not hold.
	KindPointNotFound = "point-not-found"
)

// WriteRetryBudget bounds how long a write keeps looking for a primary
// that takes it (failover included) before it fails with 503, unless the
// request's own deadline comes first.
const WriteRetryBudget = 20 * time.Second

// NoLeaseBudget is how long a write keeps retrying a primary that cannot
// confirm its lease (it may just have resumed, or meta may be electing a
// leader) before the primary's refusal is the answer (503).
const NoLeaseBudget = 5 * time.Second

// Backoff between retries on the same shard map: a primary that was only
// briefly unreachable, or a node that has not yet seen the map naming it
// primary, is asked again without waiting for a map change.
const (
	retryBackoffMin = 50 * time.Millisecond
	retryBackoffMax = time.Second
)

// DefaultConsistencyPause is how long a write refused for too few replicas
// waits before its one retry, when no newer map shows up sooner.
const DefaultConsistencyPause = 250 * time.Millisecond

// PrimaryWriter sends each shard's write to the shard's primary
// (Shard.primary) with the shard's term (Shard.term); the primary
// sequences the write and replicates it to the other replicas, and answers
// once write_consistency_factor replicas hold it.
//
// When the primary refuses the write as not being the primary at that term
// (FailedPrecondition, KindNotPrimary), is unreachable or unregistered, or
// answers Unavailable, the writer waits for the watched state to show a
// newer shard map for the collection (or a short backoff), re-resolves
// the shard and sends the write again — to the new primary once the meta
// controller has failed over. An in-flight attempt whose shard gets
// another primary or term in the meantime is abandoned for the new one.
// This goes on until the request's deadline or Budget; then the write is
// Unavailable: "no primary for shard N".
//
// Retrying a write whose outcome is unknown (the connection broke after
// the primary may have logged it) is safe because every write the router
// sends is idempotent: upserts and vector updates set whole values,
// deletions delete, payload operations set, overwrite or remove keys; a
// write applied twice leaves the same points as once (with a newer
// version).
//
// A primary that cannot reach write_consistency_factor replicas
// (Unavailable, KindWriteConsistency) is retried once, on the newer map
// when the state shows one, else after a short pause (the primary may not
// have seen the map activating its followers yet); a second refusal's
// message is the answer (503). Rate limiting (ResourceExhausted) is TooManyRequests
// (429) at once.
type PrimaryWriter struct {
	Replicas ReplicaClients
	Maps     MapWatcher
	// Budget is the retry budget; 0 selects WriteRetryBudget.
	Budget time.Duration
	// ConsistencyPause is the longest wait before the one retry of a
	// write-consistency refusal; 0 selects DefaultConsistencyPause.
	ConsistencyPause time.Duration
	Log              zerolog.Logger
}

// errPrimaryMoved cancels an attempt whose shard got a new primary or term.
var errPrimaryMoved = errors.New("the shard's primary changed")

// Write implements ShardWriter.
func (w *PrimaryWriter) Write(ctx context.Context, c *Collection, shard *shoalv1.Shard, op WriteOp) (*shoalv1.UpdateResponse, error) {
	budget := w.Budget
	if budget <= 0 {
		budget = WriteRetryBudget
	}
	retryCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	pause := w.ConsistencyPause
	if pause <= 0 {
		pause = DefaultConsistencyPause
	}
	backoff := retryBackoffMin
	refreshed := false
	var noLeaseSince time.Time
	var last error
	for attempt := 1; ; attempt++ {
		changed := w.Maps.Changed()
		resp, err := w.attempt(ctx, c, shard, op, changed)
		if err == nil {
			return resp, nil
		}
		switch classify(err) {
		case writeFinal:
			return nil, asAPIError(err)
		case writeNoLease:
			if noLeaseSince.IsZero() {
				noLeaseSince = time.Now()
			} else if time.Since(noLeaseSince) >= NoLeaseBudget {
				return nil, consistencyRefusal(err)
			}
		case writeConsistency:
			if refreshed {
				return nil, consistencyRefusal(err)
			}
			refreshed = true
			nc, ns, newer, gone := w.newerMap(c, shard.GetId())
			if gone != nil {
				return nil, gone
			}
			if !newer {
				// The primary may judge by an older map than the router's
				// (a collection just activated): give it a moment to see
				// it, or the router a newer one, then try once more.
				if !sleepOrChange(retryCtx, changed, pause) {
					return nil, consistencyRefusal(err)
				}
				if nc, ns, newer, gone = w.newerMap(c, shard.GetId()); gone != nil {
					return nil, gone
				}
			}
			if newer {
				c, shard = nc, ns
			}
			continue
		}
		last = err
		w.Log.Debug().Err(err).Str("collection", c.Name()).Uint32("shard", shard.GetId()).Uint64("primary", shard.GetPrimary()).
			Uint64("term", shard.GetTerm()).Int("attempt", attempt).Msg("write not taken by the primary; retrying")
		// Wait for a newer map or the backoff, whichever is first.
		nc, ns, newer, gone := w.newerMap(c, shard.GetId())
		if gone != nil {
			return nil, gone
		}
		if !newer {
			if !sleepOrChange(retryCtx, changed, backoff) {
				return nil, w.giveUp(ctx, c, shard, last)
			}
			backoff = min(2*backoff, retryBackoffMax)
			nc, ns, newer, gone = w.newerMap(c, shard.GetId())
			if gone != nil {
				return nil, gone
			}
		}
		if newer {
			c, shard = nc, ns
			backoff = retryBackoffMin
		}
		if retryCtx.Err() != nil {
			return nil, w.giveUp(ctx, c, shard, last)
		}
	}
}

// sleepOrChange waits for d or the next state change; false when ctx
// ends first.
func sleepOrChange(ctx context.Context, changed <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-changed:
	case <-t.C:
	}
	return true
}

// attempt sends the write once to the shard's primary. It is abandoned
// (errPrimaryMoved) when the watched state gives the shard another primary
// or term while it is in flight.
func (w *PrimaryWriter) attempt(ctx context.Context, c *Collection, shard *shoalv1.Shard, op WriteOp, changed <-chan struct{}) (*shoalv1.UpdateResponse, error) {
	id := shard.GetId()
	primary := shard.GetPrimary()
	if primary == 0 {
		return nil, errNoPrimary
	}
	if rep := cluster.FindReplica(shard, primary); rep == nil || rep.GetState() == shoalv1.ReplicaState_REPLICA_STATE_DEAD {
		return nil, errNoPrimary
	}
	cl, err := w.Replicas.ReplicaClient(primary)
	if err != nil {
		return nil, errUnregistered{err}
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		w.watchPrimary(actx, cancel, done, c, shard, changed)
	}()
	defer func() {
		close(done)
		<-exited
	}()

	ref, term := c.Ref(id), shard.GetTerm()
	var resp *connect.Response[shoalv1.UpdateResponse]
	switch {
	case op.Op != nil:
		resp, err = cl.Update(actx, connect.NewRequest(&shoalv1.UpdateRequest{Shard: ref, Op: op.Op, Wait: op.Wait, Term: term}))
	case op.Delete != nil:
		resp, err = cl.DeletePoints(actx, connect.NewRequest(&shoalv1.DeletePointsRequest{Shard: ref, Ids: op.Delete, Wait: op.Wait, Term: term}))
	default:
		resp, err = cl.Upsert(actx, connect.NewRequest(&shoalv1.UpsertRequest{Shard: ref, Points: op.Upsert, Wait: op.Wait, Term: term}))
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(actx), errPrimaryMoved) {
			return nil, errMoved
		}
		return nil, writeError{err: err, what: fmt.Sprintf("write to shard %d of `%s` on node %d", id, c.Name(), primary)}
	}
	return resp.Msg, nil
}

// watchPrimary cancels an attempt when the watched state gives the shard
// another primary or term, until done is closed.
func (w *PrimaryWriter) watchPrimary(ctx context.Context, cancel context.CancelCauseFunc, done <-chan struct{}, c *Collection, shard *shoalv1.Shard, changed <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-changed:
		}
		changed = w.Maps.Changed()
		meta, m, ok := w.Maps.Collection(c.Name())
		if !ok || meta.GetUid() != c.Meta.GetUid() {
			cancel(errPrimaryMoved)
			return
		}
		for _, s := range m.GetShards() {
			if s.GetId() == shard.GetId() && (s.GetPrimary() != shard.GetPrimary() || s.GetTerm() != shard.GetTerm()) {
				cancel(errPrimaryMoved)
				return
			}
		}
	}
}

// newerMap re-reads the collection from the watched state. newer reports
// a shard map of a later epoch than c's; gone is the error for a
// collection deleted (or deleted and created again) meanwhile.
func (w *PrimaryWriter) newerMap(c *Collection, shardID uint32) (*Collection, *shoalv1.Shard, bool, error) {
	meta, m, ok := w.Maps.Collection(c.Name())
	if !ok && c.fetched {
		return nil, nil, false, nil // read from etcd; the watch has not delivered it yet
	}
	if !ok || meta.GetUid() != c.Meta.GetUid() {
		return nil, nil, false, apierr.CollectionNotFound(c.Name())
	}
	if m.GetEpoch() <= c.Map.GetEpoch() {
		return nil, nil, false, nil
	}
	nc := NewCollection(meta, m)
	s, err := nc.Shard(shardID)
	if err != nil {
		return nil, nil, false, err
	}
	return nc, s, true, nil
}

// giveUp is the error of a write that found no primary to take it.
func (w *PrimaryWriter) giveUp(ctx context.Context, c *Collection, shard *shoalv1.Shard, last error) error {
	detail := "no answer"
	if last != nil {
		detail = apierr.As(asAPIError(last)).Msg
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return apierr.TimedOut("write to shard %d of `%s`: request cancelled", shard.GetId(), c.Name())
	}
	return apierr.NoService("no primary for shard %d of `%s` took the write (term %d): %s", shard.GetId(), c.Name(), shard.GetTerm(), detail)
}

// writeClass is what the writer does after an attempt's error.
type writeClass int

const (
	// writeFinal: the error is the answer.
	writeFinal writeClass = iota
	// writeRetry: find the primary again and resend.
	writeRetry
	// writeConsistency: the primary could not reach enough replicas.
	writeConsistency
	// writeNoLease: the primary has no confirmed lease; retried for
	// NoLeaseBudget.
	writeNoLease
)

var (
	errNoPrimary = errors.New("the shard map names no live primary")
	errMoved     = errors.New("the shard's primary changed during the write")
)

// errUnregistered is a primary whose node is not registered.
type errUnregistered struct{ err error }

func (e errUnregistered) Error() string { return e.err.Error() }
func (e errUnregistered) Unwrap() error { return e.err }

// writeError is a primary's answer to an attempt.
type writeError struct {
	err  error
	what string
}

func (e writeError) Error() string { return e.what + ": " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// classify sorts an attempt's error.
func classify(err error) writeClass {
	var we writeError
	if !errors.As(err, &we) {
		if errors.Is(err, errNoPrimary) || errors.Is(err, errMoved) || errors.As(err, new(errUnregistered)) {
			return writeRetry
		}
		return writeFinal
	}
	kind := ""
	var ce *connect.Error
	if errors.As(we.err, &ce) {
		kind = ce.Meta().Get(ErrorKindHeader)
	}
	switch connect.CodeOf(we.err) {
	case connect.CodeFailedPrecondition:
		if kind == KindNotPrimary {
			return writeRetry
		}
	case connect.CodeUnavailable:
		switch kind {
		case KindWriteConsistency:
			return writeConsistency
		case KindNoLease:
			return writeNoLease
		}
		return writeRetry
	case connect.CodeAborted:
		return writeRetry
	case connect.CodeNotFound:
		// The node does not hold the replica (yet: it may not have seen the
		// map that places it there), unlike a missing point.
		if kind != KindPointNotFound {
			return writeRetry
		}
	}
	return writeFinal
}

// asAPIError maps an attempt's error to the typed error clients see.
func asAPIError(err error) error {
	var we writeError
	if errors.As(err, &we) {
		if connect.CodeOf(we.err) == connect.CodeNotFound {
			var ce *connect.Error
			if errors.As(we.err, &ce) && ce.Meta().Get(ErrorKindHeader) == KindPointNotFound {
				return apierr.FromConnect(we.err, we.what)
			}
			return replicaError(we.err, we.what)
		}
		return apierr.FromConnect(we.err, we.what)
	}
	var typed *apierr.Error
	if errors.As(err, &typed) {
		return typed
	}
	return apierr.NoService("%s", err.Error())
}

// consistencyRefusal is a primary's write-consistency refusal: 503 with
// the storage's message.
func consistencyRefusal(err error) error {
	var we writeError
	msg := err.Error()
	if errors.As(err, &we) {
		var ce *connect.Error
		if errors.As(we.err, &ce) {
			msg = ce.Message()
		}
	}
	return &apierr.Error{Kind: apierr.Unavailable, Msg: apierr.Prefixed("Service unavailable: ", msg), Cause: err}
}
