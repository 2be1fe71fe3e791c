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
	rt, wt, hc := c.cfg.ReadTimeout, c.cfg.WriteTimeout, c.cfg.HealthCheckInterval
	if c.kind.untimed() {
		rt, hc = 0, 0 // blocking commands may wait for ever; the caller's context bounds them
	}
	// When nothing is due, look again at least this often: a deadline that
	// starts counting in between is then met within timer precision.
	idle := time.Second
	for _, d := range []time.Duration{rt / 2, wt / 2, hc} {
		if d > 0 && d < idle {
			idle = d
		}
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case <-c.dead:
			return
		case <-timer.C:
		}
		now := time.Now()
		next := now.Add(idle)
		if at := c.w.writingAt.Load(); at != 0 && wt > 0 {
			due := time.Unix(0, at).Add(wt)
			if !now.Before(due) {
				c.die(ErrWriteTimeout)
				return
			}
			next = earliest(next, due)
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
		if waiting && rt > 0 {
			if last := time.Unix(0, c.lastRead.Load()); last.After(since) {
				since = last
			}
			due := since.Add(rt)
			if !now.Before(due) {
				c.die(ErrReadTimeout)
				return
			}
			next = earliest(next, due)
		}
		if !waiting && queued == 0 && hc > 0 {
			due := time.Unix(0, c.w.lastUsed.Load()).Add(hc)
			if !now.Before(due) {
				cmd := core.NewCommand()
				cmd.Buf = protocol.AppendString(protocol.AppendArrayHeader(cmd.Buf, 1), "PING")
				if !c.tryExec(cmd, discard{}) {
					cmd.Release()
				}
			} else {
				next = earliest(next, due)
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
	}
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
