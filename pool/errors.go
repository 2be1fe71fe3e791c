package pool

import (
	"errors"
	"fmt"

	"github.com/asyncredis/asyncredis/async/core"
)

var (
	// ErrClosed is the cause when a command meets a closed pool or
	// connection: core.ErrClosed, the one every package returns after
	// Close. It is permanent (core.IsPermanent).
	ErrClosed = core.ErrClosed
	// ErrNotSent is matched by the failure of a command that surely did
	// not run: it was never written to the server (core.ErrNotSent; see
	// core.SafeToRetry).
	ErrNotSent = core.ErrNotSent
	// ErrInFlight is matched by a *ConnError for a command that was
	// written before the connection died: it may or may not have run
	// (core.ErrInFlight).
	ErrInFlight = core.ErrInFlight
	// ErrReadTimeout is the cause when a server stops answering for longer
	// than Config.ReadTimeout.
	ErrReadTimeout = errors.New("pool: server did not answer within ReadTimeout")
	// ErrWriteTimeout is the cause when a write to the server (one that
	// has stopped reading) does not finish within Config.WriteTimeout.
	ErrWriteTimeout = errors.New("pool: server did not read within WriteTimeout")
	// ErrQueueFull is no longer returned: a command that meets a full line
	// of commands waiting for a connection to be dialled waits for room,
	// bounded by its context (package waitline). Kept so that code
	// matching it still compiles. It matches ErrNotSent.
	ErrQueueFull = core.NewNotSent("pool: queue of commands waiting for a connection is full")
	// ErrHeld fails, unsent, a command that a held pool did not write
	// (Pool.Hold: a failover of its server is under way). A managed pool
	// takes such commands back and sends them once it knows where.
	ErrHeld = errors.New("pool: not written: held while a failover is under way")
	// ErrUnexpectedReply is the cause when a reply arrives with no command
	// waiting for it (on a subscriber connection, an error reply that
	// answers no subscription command it wrote: see Pool.Subscriber).
	ErrUnexpectedReply = errors.New("pool: reply with no pending command")
)

// ConnError fails every command pending on a connection that died. Sent
// says whether the command may have run; errors.Is matches ErrInFlight or
// ErrNotSent accordingly, and the underlying cause.
type ConnError struct {
	Addr string
	Sent bool  // written before the failure: the outcome is unknown
	Err  error // why the connection died
}

func (e *ConnError) Error() string {
	what := "not sent"
	if e.Sent {
		what = "in flight, outcome unknown"
	}
	return fmt.Sprintf("pool: connection to %s lost (%s): %v", e.Addr, what, e.Err)
}

// Unwrap returns the cause.
func (e *ConnError) Unwrap() error { return e.Err }

// Is matches ErrInFlight or ErrNotSent.
func (e *ConnError) Is(target error) bool {
	return (target == ErrInFlight && e.Sent) || (target == ErrNotSent && !e.Sent)
}

// SafeToRetry reports whether the command surely did not run (see
// core.SafeToRetry).
func (e *ConnError) SafeToRetry() bool { return !e.Sent }

// DialError reports a failure to connect or to complete the handshake.
// Commands that meet it were not sent; errors.Is matches ErrNotSent.
// Authentication failures match protocol.ErrAuth.
type DialError struct {
	Addr string
	Step string // "dial", "tls", "hello", "auth", "setname", "select", "readonly"
	Err  error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("pool: connect to %s: %s: %v", e.Addr, e.Step, e.Err)
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }

// Is matches ErrNotSent: no command was written.
func (e *DialError) Is(target error) bool { return target == ErrNotSent }

// SafeToRetry is true: no command was written (see core.SafeToRetry).
func (e *DialError) SafeToRetry() bool { return true }
