package cluster

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// request is one command on its way through the cluster: it keeps the
// encoded command until its outcome is known, so that a redirect or a
// node that could not be reached sends it again, and it is the sink the
// node's pool completes. It forwards the caller's pull capability
// (core.PullSink): a caller that reads its own reply runs the redirect
// handling on its goroutine, and when the command is sent again the new
// connection finds the future already marked and reads the reply itself.
type request struct {
	core.Wrapper // the caller's sink

	c    *Cluster
	ctx  context.Context
	cmd  *core.Command // owned until the request ends; each send writes a copy
	slot int           // 0..NumSlots-1, or anySlot
	seq  uint64        // issue order, for the slot's waiting line
	read bool          // read-only: may go to a replica

	// Written by whoever holds the request: the sender, then the pool's
	// completion, then the waiting line; never two at once.
	sent *node       // where it went last
	rs   *retryState // once redirected or refused
}

// retryState is what a request needs once it has been redirected or
// refused, or could not reach its node: allocated then, so that the
// commands that go through at once (nearly all) carry less.
type retryState struct {
	ask       string // ASK target for the next send
	mapRead   bool   // a redirect outside the map made it wait for the map once
	redirects int
	retries   int
	first     time.Time // the first refusal, for Config.RetryTimeout
	last      error     // the last refusal or failure, for the error if r gives up
	backoff   core.Backoff
}

// newRequest makes the request of cmd for slot. Requests are not
// recycled: a pool may still ask a completed sink for its capabilities
// (Consumes) after Complete returns.
func (c *Cluster) newRequest(ctx context.Context, cmd *core.Command, sink core.Sink, slot int) *request {
	r := new(request)
	c.initRequest(r, ctx, cmd, sink, slot)
	return r
}

// initRequest makes r the request of cmd for slot (r may be one of an
// array: a split's parts are allocated together).
func (c *Cluster) initRequest(r *request, ctx context.Context, cmd *core.Command, sink core.Sink, slot int) {
	*r = request{Wrapper: core.Wrapper{Inner: sink}, c: c, ctx: ctx, cmd: cmd, slot: slot,
		read: c.cfg.Reads != core.ReadMaster && core.ReadOnly(cmd.Name())}
}

// retry returns r's retry state, making it at the first need.
func (r *request) retry() *retryState {
	if r.rs == nil {
		r.rs = &retryState{first: time.Now(), backoff: core.Backoff{Min: r.c.cfg.RetryBackoff, Max: r.c.cfg.MaxRetryBackoff}}
	}
	return r.rs
}

// asking reports whether r's next send goes to an ASK target.
func (r *request) asking() bool { return r.rs != nil && r.rs.ask != "" }

// Complete implements core.Sink.
func (r *request) Complete(v protocol.Value, err error) { r.Offer(v, err) }

// Offer implements core.Offerer: a redirect, TRYAGAIN or CLUSTERDOWN
// sends the command again (the caller never sees them); anything else is
// the outcome, offered to the caller's sink.
func (r *request) Offer(v protocol.Value, err error) bool {
	if err == nil && v.Kind == protocol.KindError {
		if k := kindOf(v.Str); k != notRedirect {
			r.c.cameBack(r, back{kind: k, msg: v.Str})
			return true
		}
	}
	c, slot := r.c, r.slot
	if err != nil && errors.Is(err, core.ErrInFlight) && r.sent != nil {
		// The connection died under the command: the node may be gone.
		// Read the map again until it says who serves its slots now.
		c.nodeDown(r.sent)
	}
	took := core.Offer(r.Inner, v, err)
	r.end()
	c.returned(slot)
	return took
}

// Requeue implements core.Requeuer: the node's pool gives back a copy it
// never wrote (it could not reach the node, or the pool was closed); the
// request waits and tries again, after a refresh of the map.
func (r *request) Requeue(sent *core.Command, err error) bool {
	sent.Release()
	r.c.cameBack(r, back{kind: unreachable, err: err})
	return true
}

// fail ends a request that was not sent now (waiting, or refused).
func (r *request) fail(err error) {
	inner := r.Inner
	r.end()
	inner.Complete(protocol.Value{}, err)
}

// end releases the command.
func (r *request) end() {
	r.cmd.Release()
	r.cmd = nil
}

// expireRequest fails a request whose context ended while it waited.
func expireRequest(r *request, err error) { r.fail(r.endedWhileRetrying(err)) }

// redirectKind is what an error reply asks of the client, or why else
// a command came back to it (back).
type redirectKind uint8

const (
	notRedirect redirectKind = iota
	moved                    // MOVED slot addr: the slot has a new owner
	ask                      // ASK slot addr: this command, once, to addr
	tryAgain                 // TRYAGAIN: a multi-key command during a migration
	clusterDown              // CLUSTERDOWN: the cluster serves no slot now
	unreachable              // not a reply: its node's pool gave it back unwritten
	notServed                // not a reply: no node serves its slot now
)

func kindOf(msg string) redirectKind {
	switch {
	case strings.HasPrefix(msg, "MOVED "):
		return moved
	case strings.HasPrefix(msg, "ASK "):
		return ask
	case strings.HasPrefix(msg, "TRYAGAIN"):
		return tryAgain
	case strings.HasPrefix(msg, "CLUSTERDOWN"):
		return clusterDown
	}
	return notRedirect
}

// retryOrGiveUp counts one more retry of r after cause (a refusal that
// says it did not run, a node that could not be reached, a slot no node
// serves) and returns nil while the retry bounds allow it, else the
// error to end r with.
func (r *request) retryOrGiveUp(cause error) error {
	rs := r.retry()
	rs.retries++
	rs.last = cause
	core.NoteCause(r.Inner, cause) // the caller's context, if it ends first, says why too
	var reason error
	switch {
	case r.ctx.Err() != nil:
		reason = r.ctx.Err()
	case r.c.cfg.MaxRetries > 0 && rs.retries > r.c.cfg.MaxRetries:
		reason = ErrMaxRetries
	case time.Since(rs.first) >= r.c.cfg.RetryTimeout:
		reason = ErrRetryTimeout
	default:
		return nil
	}
	return &GaveUpError{Reason: reason, Last: cause, Retries: rs.retries - 1}
}

// endedWhileRetrying is the error of r whose context ended (reason) while
// it waited: it names the cause it was waiting on, if any.
func (r *request) endedWhileRetrying(reason error) error {
	if r.rs == nil || r.rs.last == nil {
		return core.NotSent(reason)
	}
	return &GaveUpError{Reason: reason, Last: r.rs.last, Retries: r.rs.retries}
}
