// Package apierr is the router's typed error: a kind that every wire
// format (REST now, gRPC later) maps to its own status code, and a message
// worded the way Qdrant words it, so that clients that match on Qdrant's
// messages keep working.
package apierr

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the wire formats.
type Kind int

// The kinds, with the REST status each maps to.
const (
	// Internal is an unexpected failure (500). Its message is logged.
	Internal Kind = iota
	// BadRequest is malformed or wrong input (400).
	BadRequest
	// Validation is a well-formed request with values out of range (422).
	Validation
	// NotFound is a missing collection or point (404).
	NotFound
	// Conflict is a name taken by something different (409).
	Conflict
	// Unavailable means no replica or meta node could serve (503).
	Unavailable
	// Timeout means the deadline passed before an answer (408, as Qdrant).
	Timeout
	// TooLarge is a request body over the configured limit (413).
	TooLarge
	// Unauthorized is a missing or wrong API key (401).
	Unauthorized
	// Forbidden is a read-only API key used for a write (403).
	Forbidden
	// TooManyRequests is a write over a storage node's update rate limit
	// (429, with Retry-After).
	TooManyRequests
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case BadRequest:
		return "bad_request"
	case Validation:
		return "validation"
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case Unavailable:
		return "unavailable"
	case Timeout:
		return "timeout"
	case TooLarge:
		return "too_large"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case TooManyRequests:
		return "too_many_requests"
	}
	return "internal"
}

// Error is a typed API error. Msg is the complete text shown to the client.
type Error struct {
	Kind Kind
	Msg  string
	// Cause is the underlying error, kept for logs; never shown to clients.
	Cause error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// New builds an error of kind k with a complete message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Format is a request body that is not valid JSON or has the wrong shape:
// "Format error in JSON body: <detail>" (400).
func Format(format string, args ...any) *Error {
	return New(BadRequest, "Format error in JSON body: "+format, args...)
}

// BadInput is Qdrant's "Wrong input: <detail>" (400).
func BadInput(format string, args ...any) *Error {
	return New(BadRequest, "Wrong input: "+format, args...)
}

// Invalid is Qdrant's "Validation error in JSON body: [<field>: <detail>]"
// (422).
func Invalid(field, format string, args ...any) *Error {
	return New(Validation, "Validation error in JSON body: [%s: %s]", field, fmt.Sprintf(format, args...))
}

// Missing is a point or other object that does not exist: "Not found: ..."
// (404).
func Missing(format string, args ...any) *Error {
	return New(NotFound, "Not found: "+format, args...)
}

// CollectionNotFound is Qdrant's message for an unknown collection.
func CollectionNotFound(name string) *Error {
	return Missing("Collection `%s` doesn't exist!", name)
}

// Exists is a name already taken: "Wrong input: ..." (409).
func Exists(format string, args ...any) *Error {
	return New(Conflict, "Wrong input: "+format, args...)
}

// NoService is "Service unavailable: <detail>" (503).
func NoService(format string, args ...any) *Error {
	return New(Unavailable, "Service unavailable: "+format, args...)
}

// RateLimited is Qdrant's "Rate limiting exceeded: <detail>" (429).
func RateLimited(format string, args ...any) *Error {
	return New(TooManyRequests, "Rate limiting exceeded: "+format, args...)
}

// TimedOut is Qdrant's "Timeout error: <detail>".
func TimedOut(format string, args ...any) *Error {
	return New(Timeout, "Timeout error: "+format, args...)
}

// Wrap returns an Internal error around err; the client sees
// "Service internal error: <msg>".
func Wrap(err error, msg string) *Error {
	return &Error{Kind: Internal, Msg: "Service internal error: " + msg, Cause: err}
}

// Unsupported is a Qdrant feature Shoal does not serve yet (400):
// "Wrong input: <what> is not supported yet".
func Unsupported(what string) *Error {
	return BadInput("%s is not supported yet", what)
}

// KindOf returns the kind of err: its *Error's kind, Internal otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns err as an *Error, wrapping an untyped error as Internal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Msg: "Service internal error: " + err.Error(), Cause: err}
}
