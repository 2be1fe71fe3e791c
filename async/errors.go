package async

import "errors"

// ErrNilContext fails a call made with a nil context.
var ErrNilContext = errors.New("async: nil context")

// ErrNilFuture is returned by the combinators for a nil future.
var ErrNilFuture = errors.New("async: nil future")

// PermanentError is implemented by errors that retrying cannot cure, such
// as a closed pool or a server that cannot do what was asked. Long-lived
// helpers (PubSub) give up and report them instead of reconnecting.
type PermanentError interface {
	error
	Permanent() bool
}

// IsPermanent reports whether err, or an error it wraps, is permanent.
func IsPermanent(err error) bool {
	var pe PermanentError
	return errors.As(err, &pe) && pe.Permanent()
}
