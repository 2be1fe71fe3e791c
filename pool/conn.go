package pool

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool/waitline"
	"github.com/asyncredis/asyncredis/protocol"
)

// request is one command queued on a connection.
type request struct {
	ctx  context.Context
	cmd  *core.Command
	sink core.Sink
	at   time.Time // when it began waiting for a connection; zero when it did not
}

// connKind is what a connection is for, which decides the rules it
// follows.
type connKind uint8

const (
	standalone connKind = iota // from Dial: one caller's own, bounded by ReadTimeout
	shared                     // a pool's shared connection: anyone's pipelined commands, no connection-state commands
	dedicated                  // lent by a pool (Acquire, blocking commands): not bounded by ReadTimeout
	subscriber                 // a pool's pub/sub connection: push frames, not bounded by ReadTimeout
)

// untimed reports whether a command may wait for its reply for ever (a
// blocking command, a subscription): ReadTimeout and health checks do
// not apply; the caller's context bounds the wait.
func (k connKind) untimed() bool { return k == dedicated || k == subscriber }

// Conn is one connection to a server: commands from any goroutine go
// through its write side (writer.go) and replies are matched to them
// strictly in order by its read side (reader.go), watched by its watchdog
// (watchdog.go). Conn implements core.Executor.
type Conn struct {
	cfg    Config
	addr   string
	nc     net.Conn
	rd     *protocol.Reader
	br     *bufio.Reader // rd's buffer, for waiting for a reply without consuming it
	pull   bool          // callers may read their own replies (no push frames to watch for)
	mark   *core.PullMark
	probe  *prober // asks the socket whether the server closed it, while nobody reads
	proto  int     // 2 or 3, as negotiated
	kind   connKind
	onDead func(*Conn) // told when the connection dies (a pool's shared and subscriber connections)
	hooks  *core.Hooks // observe the commands Exec takes: set for Dial's and Acquire's connections; a pool observes its own at its Exec

	clientID int64 // CLIENT ID of an untimed connection, 0 if unknown

	dead chan struct{} // closed by die, once
	w    writer        // the write side (writer.go); its queue is guarded by mu

	mu      sync.Mutex    // guards the fields below
	pending ring          // written, awaiting replies, in order
	asks    []pendingAsk  // a subscriber's subscription commands written, not yet answered in full (asks.go)
	err     error         // why the connection died; nil while alive
	since   time.Time     // when pending last became non-empty or a reply last came
	room    waitline.Room // callers waiting for room
	read    readSide      // who reads replies (reader.go)

	load     atomic.Int64 // commands queued or pending
	lastRead atomic.Int64 // unix nanoseconds of the last bytes received

	wg sync.WaitGroup // the writer, reader and watchdog loops
}

// hold stops writing: the commands queued and not yet written are taken
// out and returned in order, for the caller to fail unsent with ErrHeld
// (a managed pool takes them back), and so are the commands that come
// until unhold. Commands already being written or awaiting replies finish.
func (c *Conn) hold() []request {
	c.mu.Lock()
	c.w.held = true
	q := c.w.queue
	c.w.queue, c.w.queueBytes = nil, 0
	c.freedLocked()
	c.mu.Unlock()
	c.load.Add(-int64(len(q)))
	return q
}

// unhold ends hold.
func (c *Conn) unhold() {
	c.mu.Lock()
	c.w.held = false
	c.mu.Unlock()
}

// observe sets the hooks that observe the commands Exec takes from now
// on (nil: none), for a connection lent to a caller.
func (c *Conn) observe(h *core.Hooks) { c.hooks = h }

// Addr is the address the connection was dialled to.
func (c *Conn) Addr() string { return c.addr }

// Protocol is the negotiated RESP version, 2 or 3.
func (c *Conn) Protocol() int { return c.proto }

// Err returns why the connection died, or nil while it is alive.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Dead is closed when the connection dies or is closed.
func (c *Conn) Dead() <-chan struct{} { return c.dead }

// Load is the number of commands queued or awaiting replies.
func (c *Conn) Load() int64 { return c.load.Load() }

// Dedicated reports whether the connection is one caller's own (from
// Dial or Acquire) rather than a pool's shared connection: connection-state
// commands such as MULTI or SELECT are allowed only there (core.Dedicated).
func (c *Conn) Dedicated() bool { return c.kind != shared }

// Exec queues cmd; sink.Complete is called exactly once with its reply or
// error. A command whose ctx has ended before the writer takes it is not
// sent, and leaves the queue.
//
// The connection holds at most Config.MaxPending commands (queued plus
// awaiting replies) and Config.MaxQueueBytes of queued commands. When it
// is full, Exec waits for room, at most until ctx ends (the command then
// fails with ctx.Err(), never sent) or the connection dies (ReadTimeout
// and WriteTimeout bound that).
func (c *Conn) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	c.enqueue(ctx, []*core.Command{cmd}, []core.Sink{sink}, true, time.Time{})
}

// execWaited is Exec for a command that has already waited since at (for
// a connection to be dialled): ReadTimeout counts from then.
func (c *Conn) execWaited(r request) {
	c.enqueue(r.ctx, []*core.Command{r.cmd}, []core.Sink{r.sink}, true, r.at)
}

// ExecBatch queues several commands at once, in order, so that they are
// written together (core.BatchExecutor). A batch is admitted whole when
// the connection has room, even if it is larger than the bounds.
func (c *Conn) ExecBatch(ctx context.Context, cmds []*core.Command, sinks []core.Sink) {
	c.enqueue(ctx, cmds, sinks, true, time.Time{})
}

// tryExec queues cmd only if there is room at once, for the connection's
// own health checks.
func (c *Conn) tryExec(cmd *core.Command, sink core.Sink) bool {
	return c.enqueue(context.Background(), []*core.Command{cmd}, []core.Sink{sink}, false, time.Time{})
}

// enqueue admits cmds when there is room, waiting for it if wait is set.
// It reports whether they were queued (without wait, false means full and
// nothing was done).
func (c *Conn) enqueue(ctx context.Context, cmds []*core.Command, sinks []core.Sink, wait bool, at time.Time) bool {
	if wait && c.hooks != nil {
		sinks = hookSinks(c.hooks, ctx, c.addr, c.cfg.DB, cmds, sinks)
	}
	size := 0
	for _, cmd := range cmds {
		size += len(cmd.Buf)
	}
	var gone []request // purged; completed once c.mu is released
	defer func() { completeExpired(gone) }()
	c.mu.Lock()
	var full bool
	var err error
	if c.err != nil || c.w.held || c.room.Waiting() || !c.hasRoomLocked(size) {
		gone, full, err = c.admitLocked(ctx, len(cmds), size, wait)
	}
	if err != nil || full {
		c.mu.Unlock()
		for i := 0; err != nil && i < len(cmds); i++ {
			core.FailNotSent(cmds[i], sinks[i], err)
		}
		return !full
	}
	if wait && len(cmds) == 1 && c.direct(ctx, cmds[0]) {
		c.writeDirect(cmds[0], sinks[0], at)
		return true
	}
	first := len(c.w.queue) == 0
	for i := range cmds {
		c.w.queue = append(c.w.queue, request{ctx: ctx, cmd: cmds[i], sink: sinks[i], at: at})
	}
	c.w.queueBytes += size
	c.mu.Unlock()
	c.load.Add(int64(len(cmds)))
	if first {
		c.wakeWriter()
	}
	return true
}

// admitLocked waits until n commands of size bytes may queue, if wait is
// set, and returns with c.mu held, as it was called. It returns the
// queued commands it purged (their context had ended) for the caller to
// complete once c.mu is released; full when, without wait, there is no
// room; and the error the commands fail with, unsent, when the
// connection died or ctx ended first.
func (c *Conn) admitLocked(ctx context.Context, n, size int, wait bool) (gone []request, full bool, err error) {
	q := connRoom{c: c}
	refused := func() (bool, error) {
		switch {
		case c.err != nil:
			return false, &ConnError{Addr: c.addr, Err: c.err}
		case c.w.held:
			return false, ErrHeld
		}
		if c.read.idle() && c.pending.len() > 0 {
			c.read.toLoop() // room comes from replies: someone must read them
		}
		return false, nil
	}
	if !wait {
		if _, err := refused(); err != nil {
			return nil, false, err
		}
		full = !q.HasRoom(size)
		return q.gone, full, nil
	}
	_, err = c.room.Admit(&c.mu, ctx, c.dead, n, size, &q, refused)
	return q.gone, false, err
}

// connRoom is the connection's queue as waitline.Room.Admit sees it: the
// room of queued commands whose context has ended is room too.
type connRoom struct {
	c    *Conn
	gone []request // purged, for the caller to complete once c.mu is released
}

func (q *connRoom) HasRoom(size int) bool {
	if q.c.hasRoomLocked(size) {
		return true
	}
	g := q.c.purgeLocked()
	q.gone = append(q.gone, g...)
	return len(g) > 0 && q.c.hasRoomLocked(size)
}

func (q *connRoom) Freed() { q.c.freedLocked() }

// hookSink reports cmd (one of pipeline commands handed over together)
// to hooks and returns its sink, wrapped if a hook wants the outcome.
func hookSink(h *core.Hooks, ctx context.Context, addr string, db, pipeline int, cmd *core.Command, sink core.Sink) core.Sink {
	if h.Command == nil {
		return sink
	}
	if end := h.Command(ctx, cmd.Describe(addr, db, pipeline)); end != nil {
		return core.HookedSink(sink, end)
	}
	return sink
}

// hookSinks is hookSink for a batch; the caller's slice is not modified.
func hookSinks(h *core.Hooks, ctx context.Context, addr string, db int, cmds []*core.Command, sinks []core.Sink) []core.Sink {
	if h.Command == nil {
		return sinks
	}
	out := make([]core.Sink, len(sinks))
	for i, cmd := range cmds {
		out[i] = hookSink(h, ctx, addr, db, len(cmds), cmd, sinks[i])
	}
	return out
}

// hasRoomLocked reports whether size more bytes of commands may queue,
// besides the room reserved for waiters already woken. An empty queue always
// admits, so that one command larger than MaxQueueBytes is not refused
// for ever; a batch is admitted whole when there is room for one more.
func (c *Conn) hasRoomLocked(size int) bool {
	resN, resBytes := c.room.Reserved()
	return waitline.Fits(len(c.w.queue)+c.w.inHand+c.pending.len()+resN, c.cfg.MaxPending, c.w.queueBytes+resBytes, c.cfg.MaxQueueBytes, size)
}

// purgeLocked removes queued commands whose context has ended (their
// futures have already failed) and returns them, for the caller to
// complete with completeExpired once c.mu is released.
func (c *Conn) purgeLocked() []request {
	kept := c.w.queue[:0]
	var gone []request
	for _, r := range c.w.queue {
		if r.ctx.Err() != nil {
			gone = append(gone, r)
			c.w.queueBytes -= len(r.cmd.Buf)
			continue
		}
		kept = append(kept, r)
	}
	clear(c.w.queue[len(kept):])
	c.w.queue = kept
	c.load.Add(-int64(len(gone)))
	return gone
}

// completeExpired fails purged commands with their context's error.
func completeExpired(gone []request) {
	for _, r := range gone {
		r.cmd.Release()
		r.sink.Complete(protocol.Value{}, core.NotSent(r.ctx.Err()))
	}
}

// freedLocked wakes callers waiting for room, first come first served,
// as many as the room freed admits.
func (c *Conn) freedLocked() { c.room.Wake(c.hasRoomLocked) }

// Close closes the connection: commands awaiting replies fail as in
// flight, queued ones as not sent. It waits for the connection's
// goroutines and is idempotent.
func (c *Conn) Close() error {
	c.die(ErrClosed)
	c.wg.Wait()
	return nil
}

// die marks the connection dead once and fails everything it holds.
func (c *Conn) die(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = cause
	queue := c.w.queue
	c.w.queue, c.w.queueBytes = nil, 0
	c.freedLocked()
	inflight := c.pending.drain()
	c.mu.Unlock()

	close(c.dead)
	c.nc.Close()
	notSent := &ConnError{Addr: c.addr, Err: cause}
	for _, r := range queue {
		core.FailNotSent(r.cmd, r.sink, notSent)
	}
	sent := &ConnError{Addr: c.addr, Sent: true, Err: cause}
	for _, s := range inflight {
		s.Complete(protocol.Value{}, sent)
	}
	c.load.Store(0)
	if h := c.cfg.Hooks; h != nil && h.Conn != nil {
		h.Conn(core.ConnEvent{Kind: core.ConnClosed, Addr: c.addr, Dedicated: c.kind.untimed(), Err: cause})
	}
	if c.onDead != nil {
		c.onDead(c)
	}
}
