package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// ErrCrossSlot is matched by a *CrossSlotError (a command refused before
// it was sent because its keys are in different hash slots) and by the
// server's own CROSSSLOT reply.
var ErrCrossSlot = protocol.ErrCrossSlot

// ErrNoNodes is matched when no node of the cluster (seeds included)
// answered for its slot map.
var ErrNoNodes = errors.New("cluster: no node answered for the slot map")

// CrossSlotError refuses a command whose keys are in different hash
// slots and which cannot be split (see the package documentation for the
// commands that are). Nothing was sent.
type CrossSlotError struct {
	Command string   // the command's name
	Slots   []uint16 // the distinct slots of its keys, in key order
}

func (e *CrossSlotError) Error() string {
	s := make([]string, len(e.Slots))
	for i, slot := range e.Slots {
		s[i] = fmt.Sprint(slot)
	}
	return fmt.Sprintf("cluster: %s refused: its keys are in slots %s; give them one {hash tag} to put them in one slot",
		e.Command, strings.Join(s, ", "))
}

// Is matches ErrCrossSlot.
func (e *CrossSlotError) Is(target error) bool { return target == ErrCrossSlot }

// Permanent reports true: sending the command again cannot help.
func (e *CrossSlotError) Permanent() bool { return true }

// RedirectError is a MOVED or ASK reply that reached a caller: on a
// dedicated connection (a transaction, Watch), where the client cannot
// send the command elsewhere by itself, or after Config.MaxRedirects. The
// command did not run, so core.SafeToRetry reports true; the client has
// already updated its slot map from it.
type RedirectError struct {
	Err *protocol.RedisError
	// Cause says why the client did not follow it, if that is why it
	// reached the caller: ErrBadAddress, ErrUnknownNode (nil after
	// MaxRedirects or on a dedicated connection).
	Cause error
}

func (e *RedirectError) Error() string {
	if e.Cause != nil {
		return "cluster: redirected: " + e.Err.Error() + ": not followed: " + e.Cause.Error()
	}
	return "cluster: redirected: " + e.Err.Error()
}

// Unwrap returns the server's reply, which matches protocol.ErrMoved or
// protocol.ErrAsk, and Cause.
func (e *RedirectError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// SafeToRetry reports true: a redirected command did not run.
func (e *RedirectError) SafeToRetry() bool { return true }

// NoNodesError reports a failed slot-map refresh: every node asked
// failed, each for the reason listed.
type NoNodesError struct {
	Tried map[string]error // by address
}

func (e *NoNodesError) Error() string {
	var b strings.Builder
	b.WriteString(ErrNoNodes.Error())
	for addr, err := range e.Tried {
		fmt.Fprintf(&b, "; %s: %v", addr, err)
	}
	return b.String()
}

// Is matches ErrNoNodes.
func (e *NoNodesError) Is(target error) bool { return target == ErrNoNodes }

// Unwrap returns the errors of the nodes asked.
func (e *NoNodesError) Unwrap() []error {
	errs := make([]error, 0, len(e.Tried))
	for _, err := range e.Tried {
		errs = append(errs, err)
	}
	return errs
}

// ErrSlotNotServed is matched when a command's slot has no master in the
// slot map (a slot removed with CLUSTER DELSLOTS, a map with a gap) or,
// with core.ReadReplica, no replica to read from: the command waited for
// one until its retry bounds ended it.
var ErrSlotNotServed = errors.New("cluster: no node serves the slot")

// ErrRetryTimeout and ErrMaxRetries are matched when Config.RetryTimeout
// or Config.MaxRetries ended a command the client kept retrying.
var (
	ErrRetryTimeout = errors.New("cluster: Config.RetryTimeout passed")
	ErrMaxRetries   = errors.New("cluster: Config.MaxRetries reached")
)

// GaveUpError ends a command that the client retried — refused for now
// (TRYAGAIN, CLUSTERDOWN), its node unreachable, or its slot served by
// no node — until its context, Config.RetryTimeout or Config.MaxRetries
// ended it. It matches both what ended it (context.DeadlineExceeded,
// context.Canceled, ErrRetryTimeout, ErrMaxRetries) and the last cause
// met (protocol.ErrTryAgain, protocol.ErrClusterDown, a dial error,
// ErrSlotNotServed...). No send of the command ran, so it matches
// core.ErrNotSent and core.SafeToRetry reports true.
type GaveUpError struct {
	Reason  error // what ended the retries
	Last    error // the last refusal or failure met
	Retries int   // retries made
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("cluster: gave up after %d retries: %v; last: %v", e.Retries, e.Reason, e.Last)
}

// Unwrap returns what ended the retries and the last cause.
func (e *GaveUpError) Unwrap() []error { return []error{e.Reason, e.Last} }

// Is matches core.ErrNotSent.
func (e *GaveUpError) Is(target error) bool { return target == core.ErrNotSent }

// SafeToRetry reports true: no send of the command ran.
func (e *GaveUpError) SafeToRetry() bool { return true }
