package pool

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// writer is a connection's write side: the queue of commands accepted and
// not yet written, the previous batch's storage reused as the next queue,
// and the socket's write deadline. One goroutine at a time writes — the
// writer loop, or a caller writing its own command at once when nothing
// else is queued, owed or being written (enqueue's direct path, which
// saves a goroutine hand-off per command when commands come one at a
// time) — and it holds writing while it does. The writer loop writes
// everything queued since its last write in one system call (up to
// writeChunk bytes), each write bounded by WriteTimeout; the watchdog
// enforces WriteTimeout from the write's start as well (writingAt).
type writer struct {
	wake chan struct{} // capacity 1; written by enqueue; read by the writer loop; never closed

	// Guarded by Conn.mu:
	queue      []request // accepted, not yet taken by the writer
	queueBytes int       // encoded bytes in queue
	inHand     int       // commands the writer has taken from queue and not yet put in pending
	spare      []request // the writer's previous batch, reused as the next queue
	writing    bool      // the writer loop or a direct caller owns the socket's write side
	held       bool      // nothing more is written until unhold (Pool.Hold)

	deadline time.Time // the socket's write deadline; used only by the write side's owner

	lastUsed  atomic.Int64 // unix nanoseconds of the last write
	writingAt atomic.Int64 // unix nanoseconds when the write under way began; 0 when none
}

// directMax bounds the commands enqueue writes on the caller's goroutine.
const directMax = 16 << 10

// direct reports whether cmd may be written at once by its caller; c.mu
// is held.
func (c *Conn) direct(ctx context.Context, cmd *core.Command) bool {
	return !c.w.writing && len(c.w.queue) == 0 && c.pending.len() == 0 &&
		!cmd.NoReply && len(cmd.Buf) <= directMax && ctx.Err() == nil
}

// writeDirect writes cmd on the caller's goroutine (the direct path, see
// writer); c.mu is held (direct said yes) and is released. With no
// replies owed the server has read everything sent, so a small write
// cannot block on a full socket.
func (c *Conn) writeDirect(cmd *core.Command, sink core.Sink, at time.Time) {
	now := time.Now()
	if err := c.closedUnreadLocked(); err != nil {
		c.mu.Unlock()
		c.die(err)
		core.FailNotSent(cmd, sink, &ConnError{Addr: c.addr, Err: err})
		return
	}
	c.w.writing = true
	c.since = now
	if !at.IsZero() {
		c.since = at
	}
	c.pending.push(sink)
	if c.read.idle() {
		// Nobody reads: leave the reply to the caller's Result (Pull) if
		// its sink can take it and nobody waits for the room the reply
		// frees, else wake the reader.
		if ps, ok := sink.(core.PullSink); !ok || c.room.Waiting() || !ps.SetPull(c.mark) {
			c.read.toLoop()
		}
	}
	c.mu.Unlock()
	c.load.Add(1)
	err := c.write(now, cmd.Buf)
	cmd.Release()
	if err != nil {
		c.die(err) // fails our command as sent: part of it may have been
		return
	}
	c.mu.Lock()
	c.w.writing = false
	more := len(c.w.queue) > 0
	c.mu.Unlock()
	if more {
		c.wakeWriter()
	}
}

func (c *Conn) wakeWriter() {
	select {
	case c.w.wake <- struct{}{}:
	default: // the writer is already due to run
	}
}

// write writes buf, bounded by WriteTimeout; only the write side's owner
// calls it. A deadline error comes back as ErrWriteTimeout.
func (c *Conn) write(now time.Time, buf []byte) error {
	c.w.lastUsed.Store(now.UnixNano())
	c.w.writingAt.Store(now.UnixNano())
	if wt := c.cfg.WriteTimeout; wt > 0 && now.Add(wt/2).After(c.w.deadline) {
		// Moving the socket's deadline costs a timer update: do it when
		// less than half of WriteTimeout is left, so each write gets
		// between half and all of it (the watchdog enforces the whole
		// WriteTimeout from the write's start as well).
		c.w.deadline = now.Add(wt)
		c.nc.SetWriteDeadline(c.w.deadline)
	}
	_, err := c.nc.Write(buf)
	c.w.writingAt.Store(0)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = ErrWriteTimeout
	}
	return err
}

// writeChunk is how much the writer gathers before it writes: a batch
// larger than this goes out in several writes, so the writer's buffer
// stays this size instead of growing (and being copied) to the size of
// the largest batch, and the server starts on the batch's head sooner.
const writeChunk = 256 << 10

// outgoing is what the writer has gathered for one write.
type outgoing struct {
	buf     []byte
	sinks   []core.Sink
	cmds    []*core.Command // released once written
	noReply []core.Sink     // completed once written
	asks    []pendingAsk    // of the subscription commands among them (asks.go)
	waited  time.Time       // the earliest a command in it began waiting
	taken   int             // commands of the writer's batch handled so far, sent or not
}

func (o *outgoing) reset() {
	if cap(o.buf) > 4*writeChunk {
		o.buf = make([]byte, 0, 16<<10) // one huge command: do not pin its size
	}
	o.buf, o.sinks, o.cmds, o.noReply, o.waited, o.taken = o.buf[:0], o.sinks[:0], o.cmds[:0], o.noReply[:0], time.Time{}, 0
	clear(o.asks)
	o.asks = o.asks[:0]
}

// failUnwritten fails what o holds, none of it written, with err.
func (o *outgoing) failUnwritten(err error) {
	for i, s := range o.sinks {
		core.FailNotSent(o.cmds[i], s, err)
		o.cmds[i] = nil
	}
	clear(o.sinks)
	for _, s := range o.noReply {
		s.Complete(protocol.Value{}, core.NotSent(err))
	}
	clear(o.noReply)
}

// writeLoop writes queued commands, all that have accumulated since the
// last write in one system call (up to writeChunk bytes per call), each
// write bounded by WriteTimeout.
func (c *Conn) writeLoop() {
	defer c.wg.Done()
	o := &outgoing{buf: make([]byte, 0, 16<<10)}
	for {
		select {
		case <-c.dead:
			return
		case <-c.w.wake:
		}
		// Let the callers that are already runnable (woken by replies)
		// queue their next commands first: they then go out in this
		// write rather than each waking the writer again.
		runtime.Gosched()
		c.mu.Lock()
		if c.w.writing {
			c.mu.Unlock()
			continue // a caller is writing; it wakes us if more is queued
		}
		c.w.writing = true
		batch := c.takeChunkLocked()
		c.w.inHand = len(batch)
		c.freedLocked()
		c.mu.Unlock()

		if !c.writeBatch(o, batch) {
			return
		}
		c.mu.Lock()
		c.w.writing = false
		if c.w.inHand > 0 { // commands that ended unsent: room again
			c.w.inHand = 0
			c.freedLocked()
		}
		if c.w.spare == nil {
			c.w.spare = batch[:0]
		}
		if len(c.w.queue) > 0 {
			c.wakeWriter() // queued while we wrote, after the wake-up was taken
		}
		c.mu.Unlock()
	}
}

// takeChunkLocked takes the commands of the next write out of the queue:
// all of them when they fit in writeChunk bytes (the queue's storage then
// becomes the spare), else as many as fit, at least one. What is not
// being written stays in the queue, where a context's end purges it and
// Hold takes it back; c.mu is held.
func (c *Conn) takeChunkLocked() []request {
	q := c.w.queue
	if c.w.queueBytes <= writeChunk {
		c.w.queue, c.w.spare = c.w.spare[:0], nil
		c.w.queueBytes = 0
		return q
	}
	n, size := 0, 0
	for n < len(q) && (n == 0 || size+len(q[n].cmd.Buf) <= writeChunk) {
		size += len(q[n].cmd.Buf)
		n++
	}
	batch := append(c.w.spare[:0], q[:n]...)
	c.w.spare = nil
	copy(q, q[n:])
	clear(q[len(q)-n:])
	c.w.queue = q[:len(q)-n]
	c.w.queueBytes -= size
	return batch
}

// writeBatch writes the commands taken from the queue, in writes of up to
// writeChunk bytes, and clears batch for reuse. Commands whose context
// has ended are dropped unsent. It reports false when the connection died.
func (c *Conn) writeBatch(o *outgoing, batch []request) bool {
	o.reset()
	for i, r := range batch {
		batch[i] = request{}
		o.taken++
		if !r.at.IsZero() && (o.waited.IsZero() || r.at.Before(o.waited)) {
			o.waited = r.at
		}
		if err := r.ctx.Err(); err != nil {
			r.cmd.Release()
			r.sink.Complete(protocol.Value{}, core.NotSent(err)) // never sent
			c.load.Add(-1)
			continue
		}
		o.buf = append(o.buf, r.cmd.Buf...)
		if r.cmd.NoReply {
			c.noteAsk(o, r.cmd)
			o.noReply = append(o.noReply, r.sink)
			r.cmd.Release()
			c.load.Add(-1)
		} else {
			o.sinks = append(o.sinks, r.sink)
			o.cmds = append(o.cmds, r.cmd)
		}
		if len(o.buf) >= writeChunk {
			if err := c.flush(o); err != nil {
				rest := batch[i+1:]
				for _, r := range rest {
					core.FailNotSent(r.cmd, r.sink, err)
				}
				if err != ErrHeld {
					return false
				}
				c.load.Add(-int64(len(rest)))
				clear(rest)
				return true
			}
			o.reset()
		}
	}
	err := c.flush(o)
	return err == nil || err == ErrHeld
}

// flush writes what o holds, its commands then awaiting replies. When the
// connection is dead, or dies in the write, it fails o's commands and
// returns the error the rest of the writer's batch fails with (not sent).
func (c *Conn) flush(o *outgoing) error {
	if len(o.sinks) == 0 && len(o.noReply) == 0 {
		return nil
	}
	c.mu.Lock()
	if c.err == nil && c.pending.len() == 0 {
		// (With replies owed, the direct write that left them unread
		// asked the socket a moment ago.)
		if err := c.closedUnreadLocked(); err != nil {
			c.mu.Unlock()
			c.die(err)
			c.mu.Lock()
		}
	}
	if c.err != nil { // died while the batch was in hand
		err := &ConnError{Addr: c.addr, Err: c.err}
		c.mu.Unlock()
		o.failUnwritten(err)
		return err
	}
	if c.w.held { // a failover is under way: nothing more is written
		c.mu.Unlock()
		c.load.Add(-int64(len(o.sinks)))
		o.failUnwritten(ErrHeld)
		return ErrHeld
	}
	if c.pending.len() == 0 && len(o.sinks) > 0 {
		c.since = time.Now()
		if !o.waited.IsZero() {
			c.since = o.waited // ReadTimeout bounds the whole wait
		}
	}
	c.keepAsksLocked(o)
	c.pending.push(o.sinks...)
	c.w.inHand -= o.taken
	if c.read.idle() && len(o.sinks) > 0 {
		c.read.toLoop()
	}
	c.mu.Unlock()
	err := c.write(time.Now(), o.buf)
	for i, cmd := range o.cmds {
		cmd.Release()
		o.cmds[i] = nil
	}
	clear(o.sinks)
	if err != nil {
		for _, s := range o.noReply {
			s.Complete(protocol.Value{}, &ConnError{Addr: c.addr, Sent: true, Err: err})
		}
		c.die(err)
		return &ConnError{Addr: c.addr, Err: err}
	}
	for _, s := range o.noReply {
		s.Complete(protocol.Value{Kind: protocol.KindSimpleString, Str: "OK"}, nil)
	}
	clear(o.noReply)
	return nil
}
