package pool

import (
	"errors"
	"os"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// readSide says who reads a connection's replies, one goroutine at a
// time. It changes only through the transitions below, with Conn.mu held:
//
//	                    toLoop: a reply is owed and nobody reads it
//	                    (a batch written, a caller waiting for room or
//	                    on a channel, the watchdog)
//	   ┌────────────┐ ───────────────────────────────▶ ┌──────────────┐
//	   │  readIdle  │                                  │   readLoop   │
//	   │            │ ◀─────────────────────────────── │ (reader      │
//	   └────────────┘   release: nothing owed, nothing │  goroutine)  │
//	     │       ▲      buffered (pull connections)    └──────────────┘
//	toCaller     │ release                                    ▲
//	(Pull)       │                                            │ toLoop: more replies owed,
//	     ▼       │                                            │ or the caller's wait ran out
//	   ┌────────────┐ ────────────────────────────────────────┘
//	   │ readCaller │
//	   └────────────┘
//
// In readIdle a reply may be owed to a caller that will read it itself
// (core.Puller: the direct path left it) or nothing is owed. A connection
// that must watch for push frames (OnPush), and an untimed one, starts in
// readLoop and never leaves it.
type readSide struct {
	owner readOwner     // guarded by Conn.mu
	wake  chan struct{} // capacity 1; carries the side to the reader loop at each toLoop
}

type readOwner int8

const (
	readIdle   readOwner = iota // nobody: a pulled reply waits for its caller, or nothing is owed
	readLoop                    // the reader goroutine
	readCaller                  // a caller reading its own reply (Pull)
)

// idle reports whether nobody reads.
func (r *readSide) idle() bool { return r.owner == readIdle }

// toLoop gives the side to the reader loop, from readIdle or readCaller.
func (r *readSide) toLoop() {
	r.owner = readLoop
	select {
	case r.wake <- struct{}{}:
	default: // cannot happen: one token per hand-over, taken before the loop gives the side back
	}
}

// toCaller gives the side to a caller pulling its reply, from readIdle.
func (r *readSide) toCaller() { r.owner = readCaller }

// release gives the side up: nothing is owed to anyone reading.
func (r *readSide) release() { r.owner = readIdle }

// closedUnreadLocked returns why the server closed the connection, if
// nobody reads from it and it has; c.mu is held. While the reader loop
// reads, a close is noticed at once; while callers read their own
// replies, nobody reads between commands, and a command written on a
// connection the server has already closed (a failover's CLIENT KILL, a
// restart) would fail in doubt, as sent, rather than unsent and safe to
// send elsewhere. Asking the socket costs a system call.
func (c *Conn) closedUnreadLocked() error {
	if !c.read.idle() {
		return nil
	}
	return c.probe.closed()
}

// Handover implements core.Puller: a reply left for its caller is read
// by the reader loop after all, for a caller that waits on a channel or a
// callback.
func (c *Conn) Handover() {
	c.mu.Lock()
	if c.read.idle() && c.pending.len() > 0 {
		c.read.toLoop()
	}
	c.mu.Unlock()
}

// Pull implements core.Puller: it reads the oldest reply on the calling
// goroutine if nobody else reads replies (the caller's own, left by
// enqueue's direct path). With until set it waits for the reply's first
// byte at most until then, and otherwise hands the read side over. The
// read side goes back to the reader loop if more replies are owed.
func (c *Conn) Pull(until time.Time) {
	c.mu.Lock()
	if !c.read.idle() || c.pending.len() == 0 || c.err != nil {
		c.mu.Unlock()
		return
	}
	c.read.toCaller()
	c.mu.Unlock()
	if !until.IsZero() && c.br.Buffered() == 0 {
		c.nc.SetReadDeadline(until)
		_, err := c.br.Peek(1) // consumes nothing, so a timeout leaves the stream whole
		c.nc.SetReadDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.mu.Lock()
			c.read.toLoop()
			c.mu.Unlock()
			return
		}
		if err != nil {
			c.die(err)
			return
		}
	}
	v, err := c.rd.Read()
	for err == nil && v.Kind == protocol.KindPush {
		v, err = c.rd.Read() // not asked for (OnPush is unset): dropped as the loop does
	}
	if err != nil {
		c.die(err)
		return
	}
	c.mu.Lock()
	s, ok := c.pending.pop()
	c.since = time.Now()
	c.freedLocked()
	c.mu.Unlock()
	if !ok { // died meanwhile, which failed everything pending
		return
	}
	c.load.Add(-1)
	complete(s, v)
	c.mu.Lock()
	if c.pending.len() > 0 || c.br.Buffered() > 0 {
		c.read.toLoop()
	} else {
		c.read.release()
	}
	c.mu.Unlock()
}

// readBatch bounds the replies the reader decodes before handing them
// over under one lock.
const readBatch = 64

// readLoop matches each reply to the oldest pending command. Replies
// already buffered are decoded together and matched under one lock,
// so a busy connection takes its lock once per read, not per reply.
func (c *Conn) readLoop() {
	defer c.wg.Done()
	vals := make([]protocol.Value, 0, readBatch)
	sinks := make([]core.Sink, 0, readBatch)
	for {
		if c.pull {
			select { // wait for the read side
			case <-c.read.wake:
			case <-c.dead:
				return
			}
		}
		if !c.readOwned(vals, sinks) {
			return
		}
	}
}

// readOwned reads while the loop owns the read side: until the
// connection dies (false) or, on a connection whose callers may read
// their own replies, until no reply is owed (true: the side is given
// back).
func (c *Conn) readOwned(vals []protocol.Value, sinks []core.Sink) bool {
	for {
		var rerr error
		vals, rerr = c.readReplies(vals[:0])
		sinks = sinks[:0]
		released := false
		if len(vals) > 0 {
			c.mu.Lock()
			for range vals {
				s, ok := c.pending.pop()
				if !ok {
					break
				}
				sinks = append(sinks, s)
			}
			c.since = time.Now()
			c.freedLocked()
			if c.pull && rerr == nil && len(sinks) == len(vals) && c.pending.len() == 0 && c.br.Buffered() == 0 {
				c.read.release()
				released = true
			}
			c.mu.Unlock()
			c.load.Add(-int64(len(sinks)))
			for i, s := range sinks {
				complete(s, vals[i]) // replies that came before any failure are delivered
				sinks[i], vals[i] = nil, protocol.Value{}
			}
			if len(sinks) < len(vals) {
				c.die(ErrUnexpectedReply)
				return false
			}
		}
		if rerr != nil {
			c.die(rerr)
			return false
		}
		if released {
			return true
		}
	}
}

// readReplies reads the replies already buffered, at least one and at
// most readBatch, into vals, passing push frames on (OnPush; on a
// subscriber connection through subscriberRead), until a read fails.
func (c *Conn) readReplies(vals []protocol.Value) ([]protocol.Value, error) {
	for len(vals) < readBatch {
		v, err := c.rd.Read()
		if err != nil {
			return vals, err
		}
		switch {
		case c.kind == subscriber:
			if c.subscriberRead(v) {
				vals = append(vals, v)
			}
		case v.Kind == protocol.KindPush:
			if c.cfg.OnPush != nil {
				c.cfg.OnPush(v)
			}
		default:
			vals = append(vals, v)
		}
		if c.rd.Buffered() == 0 {
			break
		}
	}
	return vals, nil
}

// complete hands a reply read from the server to its sink, and its
// element array back to the reader when the sink has converted it into
// values of its own.
func complete(s core.Sink, v protocol.Value) {
	s.Complete(v, nil)
	if v.Elems != nil {
		if c, ok := s.(core.Consumer); ok && c.Consumes() {
			protocol.Reuse(v)
		}
	}
}
