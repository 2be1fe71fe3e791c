package core

import (
	"sync/atomic"
	"time"
)

// A Puller lets the goroutine that waits for a reply read it itself.
//
// A command written on an idle connection has nobody else waiting for the
// connection's replies, so the connection leaves its reply unread and
// marks the command's sink with SetPull. When the caller then waits for
// the outcome, it calls Pull and reads the reply on its own goroutine:
// the connection's reader goroutine is not woken and does not have to
// wake the caller, which saves two goroutine hand-offs per command when
// commands come one at a time. Anyone who waits another way (a select on
// a channel, a callback) calls Handover instead, and the connection's
// own reader reads as usual.
type Puller interface {
	// Pull reads the reply left for the caller on the calling goroutine,
	// if nobody else is reading replies, waiting at most until until
	// (zero: no limit). When it returns, the caller's sink has its
	// outcome or someone else is reading the replies and will deliver it.
	Pull(until time.Time)
	// Handover has the connection's own reader take over replies that
	// are waiting for a Pull.
	Handover()
}

// PullMark is a connection's offer to be pulled, made once per
// connection and handed to the sinks of its pulled commands.
type PullMark struct {
	Puller Puller
	// Token is for the sink's package: whatever value of its own stands
	// for this mark in its sinks (so that marking a sink allocates
	// nothing).
	Token atomic.Value
}

// PullSink is implemented by sinks whose waiter can read its reply
// itself (a future), and by wrappers that forward to them.
type PullSink interface {
	Sink
	// SetPull marks the sink: its waiter should call m.Puller.Pull (or
	// Handover). It reports false when the sink cannot be pulled (it is
	// resolved, or somebody already waits on it); the connection's own
	// reader must then read its reply.
	SetPull(m *PullMark) bool
	// Resolved reports whether the sink has its outcome.
	Resolved() bool
}

// PullSlice bounds how long a waiter whose context can end reads on its
// own goroutine: it cannot watch its context while blocked in a read, so
// after this long it hands the connection back to the reader goroutine
// and waits on its context as well. A cancellation is noticed within
// this time; a deadline is kept exactly.
const PullSlice = 2 * time.Millisecond
