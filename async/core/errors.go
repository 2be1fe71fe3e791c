package core

import "errors"

// The outcome vocabulary. Every error a package of this module returns for
// a command answers one question through SafeToRetry: did the command
// surely not run? Those that did not were never written to a server and
// match ErrNotSent; those written to a connection that then died match
// ErrInFlight (they may or may not have run); a reply from the server
// (protocol.RedisError) means it ran and was rejected, or answered.
var (
	// ErrClosed is matched after any Close: a pool, a managed pool, a
	// sentinel pool or a connection that was closed. Commands it fails
	// before writing them also match ErrNotSent. It is permanent.
	ErrClosed error = &permanentError{"asyncredis: closed"}
	// ErrNotSent is matched by the failure of a command that surely did
	// not run: it was never written to a server. Retrying it is safe.
	ErrNotSent = errors.New("asyncredis: command not sent")
	// ErrInFlight is matched by the failure of a command that was written
	// before its connection died: it may or may not have run.
	ErrInFlight = errors.New("asyncredis: connection lost with command in flight")
)

// retryable is implemented by errors that know whether the command they
// fail may have run; SafeToRetry asks the outermost one.
type retryable interface {
	SafeToRetry() bool
}

// SafeToRetry reports whether the command that failed with err surely did
// not run, so that sending it again cannot apply it twice. It is false
// for nil, for context errors (the command may have been written before
// the context ended), for commands in flight when their connection died
// and for replies from the server. The outermost error in err's chain that
// knows the answer gives it.
func SafeToRetry(err error) bool {
	var r retryable
	return errors.As(err, &r) && r.SafeToRetry()
}

// NotSentError marks an error as the failure of a command that was never
// written: it matches ErrNotSent and whatever Err matches, and its message
// is Err's.
type NotSentError struct {
	Err error
}

func (e *NotSentError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *NotSentError) Unwrap() error { return e.Err }

// Is matches ErrNotSent.
func (e *NotSentError) Is(target error) bool { return target == ErrNotSent }

// SafeToRetry is true: nothing was written.
func (e *NotSentError) SafeToRetry() bool { return true }

// NotSent returns err marked as a failure before writing (a
// *NotSentError), unless it already says whether it was sent.
func NotSent(err error) error {
	var r retryable
	if err == nil || errors.As(err, &r) {
		return err
	}
	return &NotSentError{Err: err}
}

// NewNotSent returns an error with message msg that matches ErrNotSent,
// for package-level values such as a full queue.
func NewNotSent(msg string) error { return &NotSentError{Err: errors.New(msg)} }

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

// NewPermanent returns a permanent error with message msg.
func NewPermanent(msg string) error { return &permanentError{msg} }

type permanentError struct{ msg string }

func (e *permanentError) Error() string   { return e.msg }
func (e *permanentError) Permanent() bool { return true }

// CauseNoter is implemented by sinks that can tell their caller why a
// command was still waiting when its context ended: an executor that
// retries a command (a cluster refusing it for now, a node it cannot
// reach) notes each cause, and the context's error, if the context ends
// the wait first, is a *WaitingError with the last one noted. core.Wrapper
// forwards it.
type CauseNoter interface {
	NoteCause(err error)
}

// NoteCause notes cause on sink if it is a CauseNoter.
func NoteCause(sink Sink, cause error) {
	if cn, ok := sink.(CauseNoter); ok {
		cn.NoteCause(cause)
	}
}

// WaitingError is the context's error of a command whose executor was
// retrying it when the context ended: it matches the context's error
// (context.DeadlineExceeded, context.Canceled) and what the cause matches
// (protocol.ErrTryAgain, a dial error, ...), except the outcome marks:
// where the command was when the context ended is not known, so
// SafeToRetry reports false, as for any context error.
type WaitingError struct {
	Ctx   error // the context's error
	Cause error // the last cause the executor noted
}

func (e *WaitingError) Error() string {
	return e.Ctx.Error() + " (while retrying after: " + e.Cause.Error() + ")"
}

// Unwrap returns the context's error; the cause is matched by Is and As.
func (e *WaitingError) Unwrap() error { return e.Ctx }

// Is matches what the cause matches, but ErrNotSent and ErrInFlight.
func (e *WaitingError) Is(target error) bool {
	return target != ErrNotSent && target != ErrInFlight && errors.Is(e.Cause, target)
}

// As finds a target in the cause, but a *NotSentError.
func (e *WaitingError) As(target any) bool {
	if _, ok := target.(**NotSentError); ok {
		return false
	}
	return errors.As(e.Cause, target)
}

// SafeToRetry reports false: the command may have been written before
// the context ended.
func (e *WaitingError) SafeToRetry() bool { return false }
