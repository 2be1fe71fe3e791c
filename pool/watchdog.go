package pool

import (
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// watchdog runs beside the writer and the reader, so that neither a
// writer blocked in Write nor a reader blocked in Read can hide a dead or
// hung server: it kills the connection when the server has owed a reply
// for ReadTimeout without sending a byte, or a write has been under way
// for WriteTimeout, and it pings an idle connection every
// HealthCheckInterval.
func (c *Conn) watchdog() {
	defer c.wg.Done()
	lim := watchLimits{rt: c.cfg.ReadTimeout, wt: c.cfg.WriteTimeout, hc: c.cfg.HealthCheckInterval}
	if c.kind.untimed() {
		lim.rt, lim.hc = 0, 0 // blocking commands may wait for ever; the caller's context bounds them
	}
	// When nothing is due, look again at least this often: a deadline that
	// starts counting in between is then met within timer precision.
	lim.idle = time.Second
	for _, d := range []time.Duration{lim.rt / 2, lim.wt / 2, lim.hc} {
		if d > 0 && d < lim.idle {
			lim.idle = d
		}
	}
	timer := time.NewTimer(lim.idle)
	defer timer.Stop()
	for {
		select {
		case <-c.dead:
			return
		case <-timer.C:
		}
		next, alive := c.watch(lim, time.Now())
		if !alive {
			return
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
	}
}

// watchLimits are the watchdog's bounds: ReadTimeout, WriteTimeout and
// HealthCheckInterval as they apply to this connection (0: none), and
// how often it looks when nothing is due.
type watchLimits struct {
	rt, wt, hc, idle time.Duration
}

// stuckSweep is how long a write may be under way before the watchdog
// starts taking queued commands whose context has ended out of the
// queue, and then how often it does: a server that stops reading must
// not keep their memory (bounded by MaxQueueBytes all the same) until
// WriteTimeout kills the connection.
const stuckSweep = 5 * time.Millisecond

// watch is one look of the watchdog at now: it kills the connection for
// a timeout (alive false), sweeps the queue behind a stuck write, hands
// an unread reply to the reader loop, pings an idle connection, and says
// when to look next.
func (c *Conn) watch(lim watchLimits, now time.Time) (next time.Time, alive bool) {
	next = now.Add(lim.idle)
	if at := c.w.writingAt.Load(); at != 0 {
		began := time.Unix(0, at)
		if lim.wt > 0 && !now.Before(began.Add(lim.wt)) {
			c.die(ErrWriteTimeout)
			return next, false
		}
		if lim.wt > 0 {
			next = earliest(next, began.Add(lim.wt))
		}
		if now.Sub(began) >= stuckSweep {
			c.sweepQueue()
			next = earliest(next, now.Add(stuckSweep))
		} else {
			next = earliest(next, began.Add(stuckSweep))
		}
	}
	c.mu.Lock()
	waiting := c.pending.len() > 0
	since := c.since
	queued := len(c.w.queue)
	if c.read.idle() && c.err == nil {
		// A reply nobody has come for, or an idle connection whose
		// closing nobody would notice: the reader loop takes over.
		c.read.toLoop()
	}
	c.mu.Unlock()
	if waiting && lim.rt > 0 {
		if last := time.Unix(0, c.lastRead.Load()); last.After(since) {
			since = last
		}
		due := since.Add(lim.rt)
		if !now.Before(due) {
			c.die(ErrReadTimeout)
			return next, false
		}
		next = earliest(next, due)
	}
	if !waiting && queued == 0 && lim.hc > 0 {
		due := time.Unix(0, c.w.lastUsed.Load()).Add(lim.hc)
		if now.Before(due) {
			return earliest(next, due), true
		}
		cmd := core.NewCommand()
		cmd.Buf = protocol.AppendString(protocol.AppendArrayHeader(cmd.Buf, 1), "PING")
		if !c.tryExec(cmd, discard{}) {
			cmd.Release()
		}
	}
	return next, true
}

// sweepQueue fails the queued commands whose context has ended and frees
// their room.
func (c *Conn) sweepQueue() {
	c.mu.Lock()
	gone := c.purgeLocked()
	if len(gone) > 0 {
		c.freedLocked()
	}
	c.mu.Unlock()
	completeExpired(gone)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// discard is the sink of health-check pings: a failed ping needs no
// action, because the connection's own death is what matters.
type discard struct{}

func (discard) Complete(protocol.Value, error) {}
