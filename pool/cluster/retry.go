package cluster

import (
	"context"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// What becomes of a command that came back to the cluster instead of
// ending: a redirect, a refusal, its node out of reach, or no node for
// its slot. decide is the whole policy, top to bottom; cameBack carries
// it out (park in the slot's line for a pause, or finish).

// back is why a request came back.
type back struct {
	kind redirectKind // moved, ask, tryAgain, clusterDown, unreachable, notServed
	msg  string       // the error reply of a redirect or refusal
	err  error        // unreachable: the pool's error
}

// cameBack ends r or parks it in its slot's line, as decide says.
func (c *Cluster) cameBack(r *request, b back) {
	c.counters.count(b.kind)
	delay, err := c.decide(r, b)
	if err != nil {
		c.finish(r, err)
		return
	}
	c.park(r, delay)
}

// decide returns the error to end r with, or the pause before r is sent
// again (its slot's line keeps it in issue order meanwhile).
func (c *Cluster) decide(r *request, b back) (time.Duration, error) {
	switch b.kind {
	case moved, ask:
		return c.redirect(r, b)
	case unreachable:
		return c.unreachable(r, b.err)
	case notServed:
		return c.pauseOrGiveUp(r, ErrSlotNotServed)
	}
	// TRYAGAIN, CLUSTERDOWN: the command did not run; the same node, later.
	delay, err := c.pauseOrGiveUp(r, protocol.ParseError(b.msg))
	if err == nil && b.kind == clusterDown {
		// A master is failing and its replica may be promoted any
		// moment: watch the map closely (refresher) until it changes.
		c.maps.watchUntil.Store(time.Now().Add(clusterDownWatch).UnixNano())
		c.requestRefresh()
	}
	return delay, err
}

// pauseOrGiveUp counts one more retry of r after cause and returns its
// backoff, or the error to end it with once its retry bounds are spent.
func (c *Cluster) pauseOrGiveUp(r *request, cause error) (time.Duration, error) {
	if err := r.retryOrGiveUp(cause); err != nil {
		return 0, err
	}
	return r.retry().backoff.Next(), nil
}

// redirect follows a MOVED (the slot's owner changes for every command)
// or an ASK (this command, once, to the importing node).
func (c *Cluster) redirect(r *request, b back) (time.Duration, error) {
	rs := r.retry()
	rs.redirects++
	re := protocol.ParseError(b.msg)
	slot, ep, ok := re.Redirect()
	if !ok || rs.redirects > c.cfg.MaxRedirects {
		return 0, &RedirectError{Err: re}
	}
	addr, err := c.redirectTarget(ep, r.sent)
	if err != nil {
		return c.notFollowed(r, re, err)
	}
	if b.kind == ask {
		if r.cmd.Blocking {
			// A blocking command cannot be sent with ASKING on a
			// dedicated connection; it waits for the migration to end.
			return rs.backoff.Next(), nil
		}
		rs.ask = addr
		return 0, nil
	}
	c.moveSlot(slot, addr) // r is still out: the slot is gated before its owner changes
	if rs.redirects > 2 {
		// Nodes sending it back and forth: one has heard of a move's end
		// before the other. Pause instead of spinning through
		// MaxRedirects in a millisecond.
		c.mu.Lock()
		c.slots.settleLocked(r.slot, rs.backoff.Next())
		c.mu.Unlock()
	}
	return 0, nil
}

// unreachable handles r given back unwritten by its node's pool.
func (c *Cluster) unreachable(r *request, err error) (time.Duration, error) {
	if ended := core.Ended(r.ctx); ended != nil {
		// Its caller's deadline cut the dial or handshake it waited for:
		// that says nothing about the node.
		if r.rs != nil && r.rs.last != nil {
			err = r.endedWhileRetrying(ended)
		}
		return 0, err
	}
	c.counters.requeued.Add(1)
	n := r.sent
	if n != nil {
		c.nodeDown(n)
	}
	if c.closed.Load() {
		return 0, err
	}
	delay, gu := c.pauseOrGiveUp(r, err)
	if gu == nil && n != nil && !n.replica && !r.asking() && c.slots.target(r.slot) != n {
		// The map gave the slot to another master meanwhile (the old
		// one's pool closed under r): the pause is for trying the same
		// node again, not for one never tried. (Not for replica reads
		// or ASK targets: those would try the same kind of node again.)
		delay = 0
	}
	return delay, gu
}

// nodeDown notes that n could not be reached (or lost a connection with
// commands in flight): a replica's reads go elsewhere for a while,
// whatever the map says (the cluster may not have noticed yet), and the
// map is read again, from other nodes first, every few milliseconds
// while n owns slots, until it says who serves them now.
func (c *Cluster) nodeDown(n *node) {
	n.downUntil.Store(time.Now().Add(downPause).UnixNano())
	c.requestRefresh()
}

// downPause is how long a node that could not be reached counts as
// down: replicas are left out of reads, the map is read again every few
// milliseconds while a down node owns slots, and down nodes are asked
// for the map last.
const downPause = time.Second

// park puts r, which came back (or found no node to go to), in its
// slot's line, not to go before delay, gating the slot, and releases the
// slot if nothing else of it is out: r was counted out, and is counted
// back here.
func (c *Cluster) park(r *request, delay time.Duration) {
	if delay > 0 && r.rs != nil && r.rs.last != nil {
		if dl, ok := r.ctx.Deadline(); ok && !time.Now().Add(delay).Before(dl) {
			// Its retry would come after its caller's deadline: end it
			// now, with what it was retried for (a caller's context that
			// ends first resolves the future with its bare error).
			c.finish(r, r.endedWhileRetrying(context.DeadlineExceeded))
			return
		}
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		c.finish(r, core.NotSent(core.ErrClosed))
		return
	}
	c.slots.parkLocked(r, delay)
	c.mu.Unlock()
	c.returned(r.slot)
}

// finish ends r with err: the outcome of a command that came back.
func (c *Cluster) finish(r *request, err error) {
	slot := r.slot
	r.fail(err)
	c.returned(slot)
}

// returned counts a command of slot back; the last one back through a
// gate releases the slot's line.
func (c *Cluster) returned(slot int) {
	if c.slots.returned(slot) {
		c.release(slot)
	}
}

// release sends slot's waiting commands, in issue order, once none of
// its commands is out and its retry time has come (slots.releaseLocked).
func (c *Cluster) release(slot int) {
	c.mu.Lock()
	rs := c.slots.releaseLocked(slot, nil)
	c.mu.Unlock()
	for _, r := range rs {
		c.send(r)
	}
}

// releaseKicked sends the waiting commands of the slots whose owner
// changed, from this goroutine, once c.mu is let go.
func (c *Cluster) releaseKicked() {
	c.mu.Lock()
	rs := c.slots.takeKickedLocked()
	c.mu.Unlock()
	for _, r := range rs {
		c.send(r)
	}
}
