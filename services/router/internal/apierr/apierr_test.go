package apierr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"
)

func TestFromConnect(t *testing.T) {
	f := func(in error, kind Kind, msg string) {
		t.Helper()
		got := FromConnect(in, "search on shard 1")
		if KindOf(got) != kind || got.Error() != msg {
			t.Errorf("FromConnect(%v) = %v %q, want %v %q", in, KindOf(got), got, kind, msg)
		}
	}
	ce := func(c connect.Code, msg string) error { return connect.NewError(c, errors.New(msg)) }
	f(ce(connect.CodeInvalidArgument, "Vector dimension error: expected dim: 4, got 3"), BadRequest, "Wrong input: Vector dimension error: expected dim: 4, got 3")
	f(ce(connect.CodeInvalidArgument, "Wrong input: already prefixed"), BadRequest, "Wrong input: already prefixed")
	f(ce(connect.CodeOutOfRange, "x"), BadRequest, "Wrong input: x")
	f(ce(connect.CodeInvalidArgument, "Validation error in JSON body: [shard_number: too big]"), Validation, "Validation error in JSON body: [shard_number: too big]")
	f(ce(connect.CodeInvalidArgument, "Format error in JSON body: x"), BadRequest, "Format error in JSON body: x")
	f(ce(connect.CodeNotFound, "shard 1 not here"), NotFound, "Not found: shard 1 not here")
	f(ce(connect.CodeAlreadyExists, "taken"), Conflict, "Wrong input: taken")
	f(ce(connect.CodeUnavailable, "connection refused"), Unavailable, "Service unavailable: search on shard 1: connection refused")
	f(ce(connect.CodeFailedPrecondition, "stale term"), Unavailable, "Service unavailable: search on shard 1: stale term")
	f(ce(connect.CodeDeadlineExceeded, "slow"), Timeout, "Timeout error: search on shard 1: slow")
	f(ce(connect.CodeResourceExhausted, "too many concurrent updates"), TooManyRequests, "Rate limiting exceeded: search on shard 1: too many concurrent updates")
	f(ce(connect.CodeInternal, "boom"), Internal, "Service internal error: search on shard 1: boom")
	f(ce(connect.CodeUnimplemented, "no"), Internal, "Service internal error: search on shard 1: no")
	f(fmt.Errorf("call: %w", context.DeadlineExceeded), Timeout, "Timeout error: search on shard 1: deadline exceeded")
	f(context.Canceled, Timeout, "Timeout error: search on shard 1: request cancelled")
	f(errors.New("plain"), Internal, "Service internal error: search on shard 1: plain")
	f(CollectionNotFound("x"), NotFound, "Not found: Collection `x` doesn't exist!")
	if FromConnect(nil, "x") != nil {
		t.Error("nil error mapped to non-nil")
	}
}

func TestFromConnectKeepsCause(t *testing.T) {
	in := connect.NewError(connect.CodeInternal, errors.New("boom"))
	if !errors.Is(FromConnect(in, "x"), in) {
		t.Fatal("cause lost")
	}
}

func TestRetryable(t *testing.T) {
	f := func(err error, want bool) {
		t.Helper()
		if Retryable(err) != want {
			t.Errorf("Retryable(%v) = %v", err, !want)
		}
	}
	f(connect.NewError(connect.CodeUnavailable, errors.New("x")), true)
	f(connect.NewError(connect.CodeFailedPrecondition, errors.New("x")), true)
	f(connect.NewError(connect.CodeAborted, errors.New("x")), true)
	f(connect.NewError(connect.CodeInvalidArgument, errors.New("x")), false)
	f(connect.NewError(connect.CodeDeadlineExceeded, errors.New("x")), false)
	f(errors.New("x"), false)
}

func TestAs(t *testing.T) {
	typed := BadInput("x %d", 1)
	if As(fmt.Errorf("wrapped: %w", typed)) != typed {
		t.Error("As lost the typed error")
	}
	if e := As(errors.New("raw")); e.Kind != Internal || e.Msg != "Service internal error: raw" {
		t.Errorf("As(raw) = %+v", e)
	}
}

func TestToConnect(t *testing.T) {
	f := func(in error, code connect.Code) {
		t.Helper()
		got := ToConnect(in)
		if got.Code() != code || got.Message() != As(in).Msg {
			t.Errorf("ToConnect(%v) = %v %q, want %v", in, got.Code(), got.Message(), code)
		}
	}
	f(BadInput("x"), connect.CodeInvalidArgument)
	f(Invalid("limit", "too small"), connect.CodeInvalidArgument)
	f(CollectionNotFound("c"), connect.CodeNotFound)
	f(Exists("c"), connect.CodeAlreadyExists)
	f(NoService("x"), connect.CodeUnavailable)
	f(TimedOut("x"), connect.CodeDeadlineExceeded)
	f(New(TooLarge, "big"), connect.CodeResourceExhausted)
	f(RateLimited("x"), connect.CodeResourceExhausted)
	f(New(Unauthorized, "key"), connect.CodeUnauthenticated)
	f(New(Forbidden, "ro"), connect.CodePermissionDenied)
	f(errors.New("boom"), connect.CodeInternal)
}
