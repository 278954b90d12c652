package replica

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by every method of a closed (or closing) replica.
var ErrClosed = errors.New("shard replica is closed")

// ErrTermChanged is returned by ApplyAt when the replica follows another
// term than the write was admitted under.
var ErrTermChanged = errors.New("term changed")

// ValidationError is a request the replica refuses because of its content
// (wrong vector name or size, NaN, bad id, bad payload). Nothing of the
// request has been applied. Servers map it to InvalidArgument.
type ValidationError struct {
	Msg string
}

func (e *ValidationError) Error() string { return e.Msg }

func invalidf(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

// IsInvalid reports whether err is (or wraps) a ValidationError.
func IsInvalid(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

// NotFoundError is an operation naming a point the replica does not hold
// (set_payload, update_vectors, ... by ids), refused as a whole, like
// Qdrant's "No point with id X found". Servers map it to NotFound.
type NotFoundError struct {
	Msg string
}

func (e *NotFoundError) Error() string { return e.Msg }

// IsNotFound reports whether err is (or wraps) a NotFoundError.
func IsNotFound(err error) bool {
	var v *NotFoundError
	return errors.As(err, &v)
}
