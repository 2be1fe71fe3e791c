package async

import "errors"

// ErrNilContext fails a call made with a nil context.
var ErrNilContext = errors.New("async: nil context")

// ErrNilFuture is returned by the combinators for a nil future.
var ErrNilFuture = errors.New("async: nil future")
