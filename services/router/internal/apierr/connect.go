package apierr

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
)

// FromConnect maps an error from a storage or meta Connect call to a typed
// error. what names the call for the message ("shard 3 search"). Already
// typed errors pass through unchanged; nil stays nil.
//
//	InvalidArgument, OutOfRange                  → BadRequest ("Wrong input: …"),
//	                                               or Validation (422) when the
//	                                               message is Qdrant's
//	                                               "Validation error …"
//	NotFound                                     → NotFound ("Not found: …")
//	AlreadyExists                                → Conflict
//	Unavailable, FailedPrecondition, Aborted     → Unavailable (a replica that
//	                                               cannot serve now: retryable)
//	ResourceExhausted                            → TooManyRequests (a storage
//	                                               node's update rate limit)
//	DeadlineExceeded, Canceled                   → Timeout
//	anything else                                → Internal
func FromConnect(err error, what string) error {
	if err == nil {
		return nil
	}
	var typed *Error
	if errors.As(err, &typed) {
		return typed
	}
	msg := err.Error()
	var ce *connect.Error
	if errors.As(err, &ce) {
		msg = ce.Message()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: Timeout, Msg: "Timeout error: " + what + ": deadline exceeded", Cause: err}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: Timeout, Msg: "Timeout error: " + what + ": request cancelled", Cause: err}
	}
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeOutOfRange:
		switch {
		case strings.HasPrefix(msg, "Validation error"):
			return &Error{Kind: Validation, Msg: msg, Cause: err}
		case strings.HasPrefix(msg, "Format error"), strings.HasPrefix(msg, "Bad request: "):
			return &Error{Kind: BadRequest, Msg: msg, Cause: err}
		}
		return &Error{Kind: BadRequest, Msg: Prefixed("Wrong input: ", msg), Cause: err}
	case connect.CodeNotFound:
		return &Error{Kind: NotFound, Msg: Prefixed("Not found: ", msg), Cause: err}
	case connect.CodeAlreadyExists:
		return &Error{Kind: Conflict, Msg: Prefixed("Wrong input: ", msg), Cause: err}
	case connect.CodeUnavailable, connect.CodeFailedPrecondition, connect.CodeAborted:
		return &Error{Kind: Unavailable, Msg: "Service unavailable: " + what + ": " + msg, Cause: err}
	case connect.CodeResourceExhausted:
		return &Error{Kind: TooManyRequests, Msg: "Rate limiting exceeded: " + what + ": " + msg, Cause: err}
	case connect.CodeDeadlineExceeded, connect.CodeCanceled:
		return &Error{Kind: Timeout, Msg: "Timeout error: " + what + ": " + msg, Cause: err}
	}
	return &Error{Kind: Internal, Msg: "Service internal error: " + what + ": " + msg, Cause: err}
}

// Retryable reports whether a replica's error means another replica may
// succeed: the replica is unreachable or says it cannot serve now.
func Retryable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeFailedPrecondition, connect.CodeAborted:
		return true
	}
	return false
}

// Prefixed adds p to msg unless msg already starts with it.
func Prefixed(p, msg string) string {
	if strings.HasPrefix(msg, p) {
		return msg
	}
	return p + msg
}

// ToConnect maps an error for the public gRPC API: the kind becomes the
// status code a Qdrant server answers with and the message is kept as is.
// An untyped error is Internal.
func ToConnect(err error) *connect.Error {
	e := As(err)
	code := connect.CodeInternal
	switch e.Kind {
	case BadRequest, Validation:
		code = connect.CodeInvalidArgument
	case NotFound:
		code = connect.CodeNotFound
	case Conflict:
		code = connect.CodeAlreadyExists
	case Unavailable:
		code = connect.CodeUnavailable
	case Timeout:
		code = connect.CodeDeadlineExceeded
	case TooLarge, TooManyRequests:
		code = connect.CodeResourceExhausted
	case Unauthorized:
		code = connect.CodeUnauthenticated
	case Forbidden:
		code = connect.CodePermissionDenied
	}
	return connect.NewError(code, errors.New(e.Msg))
}
