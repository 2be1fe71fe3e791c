package cluster

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
)

// A gated slot's waiting line: commands that came back wait here, in
// issue order, until none of the slot's commands is out and its retry
// pause is over (or its owner changed), then go together.

// park puts r, which came back (or found no node to go to), in its
// slot's line, gating the slot, and lets the line go if nothing else of
// the slot is out: r was counted out, and is counted back here.
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
	slot := r.slot
	g := &c.gates[slot].w
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		c.finish(r, core.NotSent(core.ErrClosed))
		return
	}
	g.Or(gated)
	if delay > 0 {
		at := time.Now().Add(delay)
		if at.After(c.readyAt[slot]) {
			c.readyAt[slot] = at
		}
	}
	c.waiting.Push(r.ctx, slot, r, len(r.cmd.Buf))
	c.mu.Unlock()
	if g.Add(-1) == gated {
		c.flush(slot)
	}
}

// flush sends slot's waiting commands, in issue order, once none of its
// commands is out and its retry time has come; with none waiting it
// opens the gate.
func (c *Cluster) flush(slot int) {
	c.mu.Lock()
	rs := c.flushLocked(slot, nil)
	c.mu.Unlock()
	for _, r := range rs {
		c.send(r)
	}
}

// flushLocked does flush's part under c.mu: it appends to rs the
// commands of slot to send now, counted out, in issue order.
func (c *Cluster) flushLocked(slot int, rs []*request) []*request {
	g := &c.gates[slot].w
	if g.Load() != gated || c.closed.Load() {
		return rs
	}
	if wait := max(time.Until(c.readyAt[slot]), time.Until(c.settling[slot])); wait > 0 {
		c.scheduleLocked(slot, wait)
		return rs
	}
	delete(c.settling, slot)
	if n, ok := c.pending[slot]; ok {
		c.owner[slot].Store(n)
		delete(c.pending, slot)
	}
	delete(c.readyAt, slot)
	taken := c.waiting.Take(slot)
	if len(taken) == 0 {
		g.CompareAndSwap(gated, 0)
		return rs
	}
	slices.SortFunc(taken, func(a, b *request) int { return cmp.Compare(a.seq, b.seq) })
	g.Add(int64(len(taken)))
	return append(rs, taken...)
}

// flushKicked lets the commands of the slots whose owner changed go: one
// pass under the lock for all of them (a failover moves thousands of
// slots at once), then sent from this goroutine.
func (c *Cluster) flushKicked() {
	c.mu.Lock()
	slots := c.kicked
	c.kicked = nil
	var rs []*request
	for _, slot := range slots {
		rs = c.flushLocked(slot, rs)
	}
	c.mu.Unlock()
	for _, r := range rs {
		c.send(r)
	}
}

// scheduleLocked flushes slot after wait, unless a flush is scheduled.
func (c *Cluster) scheduleLocked(slot int, wait time.Duration) {
	if _, ok := c.timers[slot]; ok {
		return
	}
	c.timers[slot] = time.AfterFunc(wait, func() {
		c.mu.Lock()
		delete(c.timers, slot)
		c.mu.Unlock()
		c.lc.Go(func() { c.flush(slot) })
	})
}

// kickLocked lets the waiting commands of a gated slot with nothing out
// go at once (its owner changed: the retry pause no longer applies).
func (c *Cluster) kickLocked(slot int) {
	c.unscheduleLocked(slot)
	c.kicked = append(c.kicked, slot) // the caller calls flushKicked once it has let c.mu go
}

// unscheduleLocked drops slot's retry pause and its scheduled flush.
func (c *Cluster) unscheduleLocked(slot int) {
	delete(c.readyAt, slot)
	if t, ok := c.timers[slot]; ok && t.Stop() {
		delete(c.timers, slot)
	}
}

// settle holds slot's commands back for d, whatever changes its owner
// meanwhile: its nodes are redirecting them to each other, and every
// redirect changes the owner (and a refresh changes it back).
func (c *Cluster) settle(slot int, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at := time.Now().Add(d); at.After(c.settling[slot]) {
		c.settling[slot] = at
	}
}
