package cluster

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool/waitline"
	"github.com/asyncredis/asyncredis/protocol"
)

// A gate keeps one slot's commands in issue order across redirects. Its
// word counts the slot's commands that were sent and have not come back;
// the gated bit says that new commands must wait in the line instead of
// being sent: set when a command of the slot is redirected (or its node
// could not be reached), so that nothing issued after it overtakes it.
// Once every command sent before has come back (the count is zero), the
// waiting commands are sent in issue order, counted, and the gate opens
// when they have all come back and nothing else waits.
//
//	open, n in flight ──redirect──▶ gated, n-1 in flight (the redirected one waits)
//	gated, 0 in flight ──flush──▶ gated, k in flight (the k that waited, sent in order)
//	gated, 0 in flight, none waiting ──▶ open
type gate struct{ w atomic.Int64 }

const gated = 1 << 40

// Exec implements core.Executor: the command goes to the master of its
// first key's slot (keyless commands to one master); commands whose keys
// span slots are split (MGET, DEL, ...) or refused.
func (c *Cluster) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	if c.closed.Load() {
		core.FailNotSent(cmd, sink, core.ErrClosed)
		return
	}
	slot, err := c.slotOf(cmd)
	if err == nil && slot == anySlot && refusedWhole(cmd.Name()) {
		err = ErrWholeCluster
	}
	if err != nil {
		if sp, ok := err.(*splitNeeded); ok {
			c.split(ctx, cmd, sink, sp)
			return
		}
		cmd.Release()
		sink.Complete(protocol.Value{}, core.NotSent(err))
		return
	}
	c.submit(c.newRequest(ctx, cmd, sink, slot))
}

// submit sends r unless its slot is gated; then r waits in line.
func (c *Cluster) submit(r *request) {
	if c.enter(r) {
		c.send(r)
	}
}

// enter numbers r and counts it out on its slot's gate, and reports true;
// when the slot is gated r joins its line instead, and enter reports
// false.
func (c *Cluster) enter(r *request) bool {
	r.seq = c.seq.Add(1)
	g := &c.gates[r.slot].w
	for {
		w := g.Load()
		if w&gated != 0 {
			if c.join(r) {
				return false
			}
			continue // the gate opened meanwhile
		}
		if g.CompareAndSwap(w, w+1) {
			return true
		}
	}
}

// submitAll submits rs in order, all with ctx; those bound for the same
// node go to its pool as one batch (one hand-over to its connection
// instead of one per command). The batches share one backing array for
// their commands and one for their sinks: a split MGET over ten slots
// costs three allocations here, not one per part.
func (c *Cluster) submitAll(ctx context.Context, rs []*request) {
	type batch struct {
		n      *node
		count  int
		offset int
	}
	var local [4]batch
	batches := local[:0]
	which := make([]int8, len(rs)) // each request's batch; -1: sent on its own or not at all
	total := 0
	for i, r := range rs {
		which[i] = -1
		if !c.enter(r) {
			continue
		}
		n, asking := c.target(r)
		if n == nil || asking || len(batches) == 127 {
			c.sendTo(r, n, asking)
			continue
		}
		r.sent = n
		k := -1
		for j := range batches {
			if batches[j].n == n {
				k = j
			}
		}
		if k < 0 {
			k = len(batches)
			batches = append(batches, batch{n: n})
		}
		batches[k].count++
		which[i] = int8(k)
		total++
	}
	if total == 0 {
		return
	}
	cmds, sinks := make([]*core.Command, total), make([]core.Sink, total)
	off := 0
	for j := range batches {
		batches[j].offset = off
		off += batches[j].count
		batches[j].count = 0
	}
	for i, r := range rs {
		if k := which[i]; k >= 0 {
			b := &batches[k]
			cmds[b.offset+b.count], sinks[b.offset+b.count] = r.copyCmd(), r
			b.count++
		}
	}
	for _, b := range batches {
		end := b.offset + b.count
		b.n.pool.ExecBatch(ctx, cmds[b.offset:end:end], sinks[b.offset:end:end])
	}
}

// join puts a new request in its gated slot's line, waiting for room
// when the line is full, and reports true; false if the gate opened.
func (c *Cluster) join(r *request) bool {
	size := len(r.cmd.Buf)
	c.mu.Lock()
	var me *waitline.Waiter
	for {
		if c.closed.Load() {
			c.leaveRoomLocked(me)
			c.mu.Unlock()
			r.fail(core.NotSent(core.ErrClosed))
			return true
		}
		if c.gates[r.slot].w.Load()&gated == 0 {
			c.leaveRoomLocked(me)
			c.mu.Unlock()
			return false
		}
		if (me != nil || !c.waiting.Room.Waiting()) && c.waiting.HasRoom(size) {
			break
		}
		me = c.waiting.Room.Join(me, 1, size)
		if err := c.waiting.Room.Await(&c.mu, me, r.ctx, c.ctx.Done(), c.waiting.Freed); err != nil {
			c.mu.Unlock()
			r.fail(core.NotSent(err))
			return true
		}
	}
	c.waiting.Push(r.ctx, r.slot, r, size)
	c.mu.Unlock()
	return true
}

// leaveRoomLocked passes on the room a caller woken for it leaves unused.
func (c *Cluster) leaveRoomLocked(me *waitline.Waiter) {
	if me != nil {
		c.waiting.Freed()
	}
}

// send writes a copy of r's command to the node it should go to now.
func (c *Cluster) send(r *request) {
	n, asking := c.target(r)
	c.sendTo(r, n, asking)
}

// copyCmd returns a copy of r's command for one send (the pool releases
// what it writes; r keeps its own for a send again).
func (r *request) copyCmd() *core.Command {
	cp := core.NewCommand()
	cp.Buf = append(cp.Buf, r.cmd.Buf...)
	cp.Blocking = r.cmd.Blocking
	return cp
}

// sendTo writes a copy of r's command to n (nil: no node serves r's
// slot now: r waits for one, within its retry bounds).
func (c *Cluster) sendTo(r *request, n *node, asking bool) {
	if n == nil {
		if err := r.retryOrGiveUp(ErrSlotNotServed); err != nil {
			c.finish(r, err)
			return
		}
		c.park(r, c.retryDelay(r))
		return
	}
	r.sent = n
	cp := r.copyCmd()
	if !asking {
		n.pool.Exec(r.ctx, cp, r)
		return
	}
	a := core.NewCommand()
	a.Buf = protocol.AppendString(protocol.AppendArrayHeader(a.Buf, 1), "ASKING")
	n.pool.ExecBatch(r.ctx, []*core.Command{a, cp}, []core.Sink{discard{}, r})
}

// discard is the sink of ASKING: its reply says nothing the command's
// own reply does not.
type discard struct{}

func (discard) Complete(protocol.Value, error) {}

// target picks r's node: an ASK target once, a replica for a read when
// the policy says so, else the slot's master.
func (c *Cluster) target(r *request) (n *node, asking bool) {
	if r.asking() {
		addr := r.rs.ask
		r.rs.ask = ""
		c.mu.Lock()
		n = c.nodeLocked(addr, false)
		c.mu.Unlock()
		return n, true
	}
	if r.slot == anySlot {
		return c.anyMaster(), false
	}
	if r.read {
		if rn := c.replicaFor(r.slot); rn != nil {
			return rn, false
		}
		if c.cfg.Reads == core.ReadReplica && c.hasReplicas(r.slot) {
			return nil, false // wait for a replica
		}
	}
	return c.owner[r.slot].Load(), false
}

// anyMaster is where keyless commands go: slot 0's master, else the
// first master in slot order (the owner of anySlot, set by refreshes).
func (c *Cluster) anyMaster() *node { return c.owner[anySlot].Load() }

// firstOwnerLocked returns slot 0's master, else the first one in slot
// order, counting owners that wait to take over their slot.
func (c *Cluster) firstOwnerLocked() *node {
	for i := range NumSlots {
		if n := c.ownerLocked(i); n != nil {
			return n
		}
	}
	return nil
}

// ownerLocked returns the owner slot will have once its pending change,
// if any, is made.
func (c *Cluster) ownerLocked(slot int) *node {
	if n, ok := c.pending[slot]; ok {
		return n
	}
	return c.owner[slot].Load()
}

// setOwnerLocked makes n the owner of slot. Issue order across the
// change: with none of the slot's commands out, at once (the gate is
// closed for the moment of the change, so no command reads the owner
// half-way); otherwise the slot is gated and the change waits until the
// commands sent to the old owner have come back (flush makes it), so
// that none sent later to the new owner overtakes one of them that is
// redirected there.
func (c *Cluster) setOwnerLocked(slot int, n *node) {
	g := &c.gates[slot].w
	if g.CompareAndSwap(0, gated) {
		c.owner[slot].Store(n)
		g.CompareAndSwap(gated, 0)
		return
	}
	g.Or(gated)
	c.pending[slot] = n
	if g.Load() == gated {
		c.kickLocked(slot)
		return
	}
	// Commands are out: the slot goes once they are back, without the
	// retry pause meant for the old owner.
	c.unscheduleLocked(slot)
}

// returned counts a command of slot back; the last one back through a
// gate lets the waiting ones go.
func (c *Cluster) returned(slot int) {
	if c.gates[slot].w.Add(-1) == gated {
		c.flush(slot)
	}
}

// redirected handles a MOVED, ASK, TRYAGAIN or CLUSTERDOWN reply to r.
func (c *Cluster) redirected(r *request, k redirectKind, msg string) {
	c.counters.count(k)
	var delay time.Duration
	switch k {
	case moved, ask:
		rs := r.retry()
		rs.redirects++
		re := protocol.ParseError(msg)
		slot, ep, ok := re.Redirect()
		if !ok || rs.redirects > c.cfg.MaxRedirects {
			c.finish(r, &RedirectError{Err: re})
			return
		}
		addr, err := c.redirectTarget(ep, r.sent)
		if err != nil {
			c.notFollowed(r, re, err)
			return
		}
		if k == ask {
			if r.cmd.Blocking {
				// A blocking command cannot be sent with ASKING on a
				// dedicated connection; it waits for the migration to end.
				delay = rs.backoff.Next()
			} else {
				rs.ask = addr
			}
		} else {
			c.moveSlot(slot, addr) // r is still out: the slot is gated before its owner changes
			if rs.redirects > 2 {
				// Nodes sending it back and forth: one has heard of a
				// move's end before the other. Pause instead of spinning
				// through MaxRedirects in a millisecond.
				c.settle(r.slot, rs.backoff.Next())
			}
		}
	case tryAgain, clusterDown:
		if err := r.retryOrGiveUp(protocol.ParseError(msg)); err != nil {
			c.finish(r, err)
			return
		}
		delay = r.retry().backoff.Next()
		if k == clusterDown {
			// A master is failing and its replica may be promoted any
			// moment: watch the map closely (refresher) until it changes.
			c.watchUntil.Store(time.Now().Add(clusterDownWatch).UnixNano())
			c.requestRefresh()
		}
	}
	c.park(r, delay)
}

// unreachable handles r given back unwritten by its node's pool.
func (c *Cluster) unreachable(r *request, err error) {
	if ended := core.Ended(r.ctx); ended != nil {
		// Its caller's deadline cut the dial or handshake it waited for:
		// that says nothing about the node.
		if r.rs != nil && r.rs.last != nil {
			err = r.endedWhileRetrying(ended)
		}
		c.finish(r, err)
		return
	}
	c.counters.requeued.Add(1)
	if n := r.sent; n != nil {
		c.nodeDown(n)
	}
	if c.closed.Load() {
		c.finish(r, err)
		return
	}
	if gu := r.retryOrGiveUp(err); gu != nil {
		c.finish(r, gu)
		return
	}
	delay := c.retryDelay(r)
	if n := r.sent; n != nil && !n.replica && !r.asking() && c.targetOf(r.slot) != n {
		// The map gave the slot to another master meanwhile (the old
		// one's pool closed under r): the pause is for trying the same
		// node again, not for one never tried. (Not for replica reads
		// or ASK targets: those would try the same kind of node again.)
		delay = 0
	}
	c.park(r, delay)
}

// targetOf returns the node slot's commands go to next: its owner, or
// the owner it gets once its commands out are back.
func (c *Cluster) targetOf(slot int) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.pending[slot]; ok {
		return n
	}
	return c.ownerLocked(slot)
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

// retryDelay is the pause before r is sent again after its node could
// not be reached.
func (c *Cluster) retryDelay(r *request) time.Duration { return r.retry().backoff.Next() }

// finish ends r with err: the outcome of a command that came back.
func (c *Cluster) finish(r *request, err error) {
	slot := r.slot
	r.fail(err)
	c.returned(slot)
}
