package pool

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is the cause when a command meets a closed pool or
	// connection. It is permanent (async.IsPermanent).
	ErrClosed error = &permanentError{"pool: closed"}
	// ErrNotSent is matched by a *ConnError for a command that surely did
	// not run: it was never written to the server. It is safe to retry.
	ErrNotSent = errors.New("pool: command not sent")
	// ErrInFlight is matched by a *ConnError for a command that was
	// written before the connection died: it may or may not have run.
	ErrInFlight = errors.New("pool: connection lost with command in flight")
	// ErrReadTimeout is the cause when a server stops answering for longer
	// than Config.ReadTimeout.
	ErrReadTimeout = errors.New("pool: server did not answer within ReadTimeout")
	// ErrWriteTimeout is the cause when a write to the server (one that
	// has stopped reading) does not finish within Config.WriteTimeout.
	ErrWriteTimeout = errors.New("pool: server did not read within WriteTimeout")
	// ErrQueueFull fails, unsent, a command that meets a full queue of
	// commands waiting for a connection to be dialled.
	ErrQueueFull = errors.New("pool: queue of commands waiting for a connection is full")
	// ErrUnexpectedReply is the cause when a reply arrives with no command
	// waiting for it.
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

// DialError reports a failure to connect or to complete the handshake.
// Commands that meet it were not sent; errors.Is matches ErrNotSent.
// Authentication failures match protocol.ErrAuth.
type DialError struct {
	Addr string
	Step string // "dial", "tls", "hello", "auth", "setname", "select"
	Err  error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("pool: connect to %s: %s: %v", e.Addr, e.Step, e.Err)
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }

// Is matches ErrNotSent: no command was written.
func (e *DialError) Is(target error) bool { return target == ErrNotSent }

// permanentError is an error that retrying cannot cure (async.PermanentError).
type permanentError struct{ msg string }

func (e *permanentError) Error() string   { return e.msg }
func (e *permanentError) Permanent() bool { return true }
