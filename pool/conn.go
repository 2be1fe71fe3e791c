package pool

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
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

// Conn is one connection to a server. Commands from any goroutine are
// queued; a writer goroutine writes everything queued since its last write
// in one system call, and a reader goroutine matches replies to commands
// strictly in order. Conn implements core.Executor.
//
// A command that finds the connection idle is written by its caller, and
// its reply is left for the goroutine that waits for it to read
// (core.Puller): commands that come one at a time then cost no goroutine
// hand-off at all. Whoever reads replies owns the read side; it passes
// between the reader goroutine and such a caller under mu, and the reader
// goroutine takes it whenever replies would otherwise wait for nobody.
type Conn struct {
	cfg        Config
	addr       string
	nc         net.Conn
	rd         *protocol.Reader
	br         *bufio.Reader // rd's buffer, for waiting for a reply without consuming it
	pull       bool          // callers may read their own replies (no push frames to watch for)
	mark       *core.PullMark
	probe      *prober       // asks the socket whether the server closed it, while nobody reads
	rdWake     chan struct{} // capacity 1; hands the read side to the reader loop
	proto      int           // 2 or 3, as negotiated
	noDeadline bool          // exempt from ReadTimeout: runs blocking commands
	onDead     func(*Conn)
	hooks      *core.Hooks // observe the commands Exec takes: set for Dial's and Acquire's connections; a pool observes its own at its Exec

	idleSince time.Time // when the pool last took it back; guarded by the pool's mu

	shared   bool  // a pool's shared connection: no connection-state commands
	clientID int64 // CLIENT ID of a dedicated connection, 0 if unknown

	wake chan struct{} // capacity 1; written by Exec; read by the writer loop; never closed
	dead chan struct{} // closed by die, once

	mu         sync.Mutex    // guards the fields below
	queue      []request     // accepted, not yet taken by the writer
	queueBytes int           // encoded bytes in queue
	inHand     int           // commands the writer has taken from queue and not yet put in pending
	spare      []request     // the writer's previous batch, reused as the next queue
	pending    ring          // written, awaiting replies, in order
	err        error         // why the connection died; nil while alive
	since      time.Time     // when pending last became non-empty or a reply last came
	room       waitline.Room // callers waiting for room
	writing    bool          // the writer loop or a caller (enqueue's direct path) owns the socket's write side
	reader     int8          // who owns the read side: readNone, readLoop or readCaller

	writeDeadline time.Time // the socket's write deadline; used only by the write side's owner

	load      atomic.Int64 // commands queued or pending
	lastUsed  atomic.Int64 // unix nanoseconds of the last write
	lastRead  atomic.Int64 // unix nanoseconds of the last bytes received
	writingAt atomic.Int64 // unix nanoseconds when the write under way began; 0 when none

	wg sync.WaitGroup // the writer, reader and watchdog loops
}

// Owners of a connection's read side.
const (
	readNone   int8 = iota // nobody: a pulled reply waits for its caller, or the connection is idle
	readLoop               // the reader goroutine
	readCaller             // a caller reading its own reply (Pull)
)

// readTracker notes when bytes last arrived, so that ReadTimeout counts
// from the last bytes received rather than the last complete reply: a
// large reply that keeps trickling in is not a hung server.
type readTracker struct {
	nc net.Conn
	at *atomic.Int64
}

func (t readTracker) Read(p []byte) (int, error) {
	n, err := t.nc.Read(p)
	if n > 0 {
		t.at.Store(time.Now().UnixNano())
	}
	return n, err
}

// Stream is a connection after the handshake, without a Conn's
// goroutines, for a caller that reads frames itself: a subscription that
// must work over RESP2 as well as RESP3 (the sentinel package's event
// listeners). The caller owns it and closes it.
type Stream struct {
	net.Conn
	// Reader decodes the server's frames, within Config.Limits.
	Reader *protocol.Reader
	// Protocol is the RESP version the handshake settled on.
	Protocol int
}

// DialStream connects to cfg.Addr and performs the handshake (TLS,
// HELLO or AUTH, CLIENT SETNAME, SELECT) as Dial does, then hands the
// connection over. Errors are *DialError.
func DialStream(ctx context.Context, cfg Config) (*Stream, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := connect(ctx, cfg, false, nil)
	if err != nil {
		return nil, err
	}
	return &Stream{Conn: c.nc, Reader: c.rd, Protocol: c.proto}, nil
}

// Dial connects to cfg.Addr, performs the handshake and starts the
// connection's goroutines. Errors are *DialError.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, cfg, false, nil)
	if err != nil {
		return nil, err
	}
	c.hooks = cfg.Hooks
	return c, nil
}

// connect dials cfg.Addr (TCP, TLS or unix) and runs the handshake: the
// one way this module opens a connection to a server.
func connect(ctx context.Context, cfg Config, noDeadline bool, onDead func(*Conn)) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, cfg.Network, cfg.Addr)
	if err != nil {
		return nil, &DialError{Addr: cfg.Addr, Step: "dial", Err: ctxCause(ctx, err)}
	}
	if cfg.TLS != nil && cfg.Network == "tcp" {
		tc := cfg.TLS.Clone()
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(cfg.Addr)
			tc.ServerName = host
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, &DialError{Addr: cfg.Addr, Step: "tls", Err: ctxCause(ctx, err)}
		}
		nc = tlsConn
	}
	c := &Conn{
		cfg:        cfg,
		addr:       cfg.Addr,
		nc:         nc,
		wake:       make(chan struct{}, 1),
		dead:       make(chan struct{}),
		noDeadline: noDeadline,
		onDead:     onDead,
		shared:     !noDeadline && onDead != nil, // only a pool's shared connections have both
	}
	c.br = bufio.NewReaderSize(readTracker{nc, &c.lastRead}, 32<<10)
	c.rd = protocol.NewReader(c.br, cfg.Limits)
	// Push frames (client tracking, pub/sub) must be read as they come:
	// such connections keep the reader goroutine reading, as do
	// dedicated ones (blocking commands).
	c.pull = !noDeadline && cfg.OnPush == nil
	c.mark = &core.PullMark{Puller: c}
	c.probe = newProber(nc)
	c.rdWake = make(chan struct{}, 1)
	if !c.pull {
		c.reader = readLoop
	}
	if err := c.handshake(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// dial connects; noDeadline and onDead are set before the loops start.
func dial(ctx context.Context, cfg Config, noDeadline bool, onDead func(*Conn)) (*Conn, error) {
	c, err := connect(ctx, cfg, noDeadline, onDead)
	if h := cfg.Hooks; h != nil && h.Conn != nil {
		if err != nil {
			h.Conn(core.ConnEvent{Kind: core.ConnDialFailed, Addr: cfg.Addr, Dedicated: noDeadline, Err: err})
		} else {
			h.Conn(core.ConnEvent{Kind: core.ConnDialled, Addr: cfg.Addr, Dedicated: noDeadline})
		}
	}
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixNano()
	c.lastUsed.Store(now)
	c.lastRead.Store(now)
	c.wg.Add(3)
	go c.writeLoop()
	go c.readLoop()
	go c.watchdog()
	return c, nil
}

// handshake runs HELLO (or AUTH), CLIENT SETNAME and SELECT synchronously,
// before the loops start.
func (c *Conn) handshake(ctx context.Context) (err error) {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
	}
	// A cancelled context (not only a deadline) abandons the handshake:
	// a deadline in the past wakes the blocked read or write.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		var cause error
		if err != nil {
			if ce := ctxCause(ctx, err); ce != err {
				cause = ce
			}
		}
		if !stop() && cause == nil {
			cause = ctx.Err()
		}
		if cause != nil {
			// Report the caller's context as the cause, matchable with
			// errors.Is, rather than the I/O timeout it caused.
			var de *DialError
			if errors.As(err, &de) {
				de.Err = cause
			} else {
				err = &DialError{Addr: c.addr, Step: "handshake", Err: cause}
			}
			return
		}
		c.nc.SetDeadline(time.Time{})
	}()
	cfg := c.cfg
	c.proto = 2
	named := false
	if cfg.Protocol == 3 {
		args := []any{"HELLO", "3"}
		if cfg.Password != "" {
			user := cfg.Username
			if user == "" {
				user = "default"
			}
			args = append(args, "AUTH", user, cfg.Password)
		}
		if cfg.ClientName != "" {
			args = append(args, "SETNAME", cfg.ClientName)
		}
		_, err := c.roundTrip(args...)
		var re *protocol.RedisError
		switch {
		case err == nil:
			c.proto, named = 3, true
		case errors.As(err, &re) && (errors.Is(err, protocol.ErrAuth) || errors.Is(err, protocol.ErrNoPerm)):
			return &DialError{Addr: c.addr, Step: "hello", Err: err}
		case !errors.As(err, &re):
			return &DialError{Addr: c.addr, Step: "hello", Err: err}
		}
		// Any other error reply (unknown command, NOPROTO): speak RESP2.
	}
	if c.proto == 2 && cfg.Password != "" {
		args := []any{"AUTH", cfg.Password}
		if cfg.Username != "" {
			args = []any{"AUTH", cfg.Username, cfg.Password}
		}
		if _, err := c.roundTrip(args...); err != nil {
			return &DialError{Addr: c.addr, Step: "auth", Err: err}
		}
	}
	if !named && cfg.ClientName != "" {
		if _, err := c.roundTrip("CLIENT", "SETNAME", cfg.ClientName); err != nil {
			return &DialError{Addr: c.addr, Step: "setname", Err: err}
		}
	}
	if cfg.DB != 0 {
		if _, err := c.roundTrip("SELECT", strconv.Itoa(cfg.DB)); err != nil {
			return &DialError{Addr: c.addr, Step: "select", Err: err}
		}
	}
	if c.noDeadline {
		// A dedicated connection learns its id, so that a blocking
		// command abandoned by its caller can be woken with CLIENT
		// UNBLOCK from another connection instead of closing this one.
		if v, err := c.roundTrip("CLIENT", "ID"); err == nil && v.Kind == protocol.KindInteger {
			c.clientID = v.Int
		} else if err != nil {
			var re *protocol.RedisError
			if !errors.As(err, &re) {
				return &DialError{Addr: c.addr, Step: "client id", Err: err}
			}
		}
	}
	return nil
}

// roundTrip writes one command and reads its reply; only for the
// handshake, before the loops run.
func (c *Conn) roundTrip(args ...any) (protocol.Value, error) {
	buf, err := protocol.AppendCommand(nil, args...)
	if err != nil {
		return protocol.Value{}, err
	}
	if _, err := c.nc.Write(buf); err != nil {
		return protocol.Value{}, err
	}
	for {
		v, err := c.rd.Read()
		if err != nil {
			return protocol.Value{}, err
		}
		if v.Kind == protocol.KindPush {
			continue
		}
		return v, v.Err()
	}
}

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
func (c *Conn) Dedicated() bool { return !c.shared }

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
	var me *waitline.Waiter // set once this caller has waited for room
	for {
		if c.err != nil {
			err := &ConnError{Addr: c.addr, Err: c.err}
			c.mu.Unlock()
			for i := range cmds {
				core.FailNotSent(cmds[i], sinks[i], err)
			}
			return true
		}
		// Callers already waiting go first; one that was woken had room
		// held for it until it woke (waitline.Room.Await), and takes it here.
		if me != nil || !wait || !c.room.Waiting() {
			if c.hasRoomLocked(size) {
				break
			}
			if g := c.purgeLocked(); len(g) > 0 {
				gone = append(gone, g...)
				if c.hasRoomLocked(size) {
					break
				}
			}
		}
		if !wait {
			c.mu.Unlock()
			return false
		}
		me = c.room.Join(me, len(cmds), size)
		if c.reader == readNone && c.pending.len() > 0 {
			c.handoverLocked() // room comes from replies: someone must read them
		}
		if err := c.room.Await(&c.mu, me, ctx, c.dead, c.freedLocked); err != nil {
			c.mu.Unlock()
			for i := range cmds {
				core.FailNotSent(cmds[i], sinks[i], err)
			}
			return true
		}
	}
	if wait && len(cmds) == 1 && c.direct(ctx, cmds[0]) {
		// Nothing queued, nothing awaited, nobody writing: write on the
		// caller's goroutine rather than wake the writer for it, which
		// saves a hand-off per command when commands come one at a time.
		// With no replies owed the server has read everything sent, so a
		// small write cannot block on a full socket.
		now := time.Now()
		if err := c.closedUnreadLocked(); err != nil {
			c.mu.Unlock()
			c.die(err)
			core.FailNotSent(cmds[0], sinks[0], &ConnError{Addr: c.addr, Err: err})
			return true
		}
		c.writing = true
		c.since = now
		if !at.IsZero() {
			c.since = at
		}
		c.pending.push(sinks[0])
		if c.reader == readNone {
			// Nobody reads: leave the reply to the caller's Result
			// (Pull) if its sink can take it and nobody waits for the
			// room the reply frees, else wake the reader.
			if ps, ok := sinks[0].(core.PullSink); !ok || c.room.Waiting() || !ps.SetPull(c.mark) {
				c.handoverLocked()
			}
		}
		c.mu.Unlock()
		c.load.Add(1)
		err := c.write(now, cmds[0].Buf)
		cmds[0].Release()
		if err != nil {
			c.die(err) // fails our command as sent: part of it may have been
			return true
		}
		c.mu.Lock()
		c.writing = false
		more := len(c.queue) > 0
		c.mu.Unlock()
		if more {
			c.wakeWriter()
		}
		return true
	}
	first := len(c.queue) == 0
	for i := range cmds {
		c.queue = append(c.queue, request{ctx: ctx, cmd: cmds[i], sink: sinks[i], at: at})
	}
	c.queueBytes += size
	c.mu.Unlock()
	c.load.Add(int64(len(cmds)))
	if first {
		c.wakeWriter()
	}
	return true
}

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

// directMax bounds the commands enqueue writes on the caller's goroutine.
const directMax = 16 << 10

// direct reports whether cmd may be written at once by its caller; c.mu
// is held.
func (c *Conn) direct(ctx context.Context, cmd *core.Command) bool {
	return !c.writing && len(c.queue) == 0 && c.pending.len() == 0 &&
		!cmd.NoReply && len(cmd.Buf) <= directMax && ctx.Err() == nil
}

// closedUnreadLocked returns why the server closed the connection, if
// nobody reads from it and it has; c.mu is held. While the reader loop
// reads, a close is noticed at once; while callers read their own
// replies, nobody reads between commands, and a command written on a
// connection the server has already closed (a failover's CLIENT KILL, a
// restart) would fail in doubt, as sent, rather than unsent and safe to
// send elsewhere. Asking the socket costs a system call.
func (c *Conn) closedUnreadLocked() error {
	if c.reader != readNone {
		return nil
	}
	return c.probe.closed()
}

// handoverLocked gives the read side to the reader loop; c.mu is held
// and the loop does not own the side.
func (c *Conn) handoverLocked() {
	c.reader = readLoop
	select {
	case c.rdWake <- struct{}{}:
	default: // cannot happen: one token per hand-over, taken before the loop gives the side back
	}
}

// Handover implements core.Puller: a reply left for its caller is read
// by the reader loop after all, for a caller that waits on a channel or a
// callback.
func (c *Conn) Handover() {
	c.mu.Lock()
	if c.reader == readNone && c.pending.len() > 0 {
		c.handoverLocked()
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
	if c.reader != readNone || c.pending.len() == 0 || c.err != nil {
		c.mu.Unlock()
		return
	}
	c.reader = readCaller
	c.mu.Unlock()
	if !until.IsZero() && c.br.Buffered() == 0 {
		c.nc.SetReadDeadline(until)
		_, err := c.br.Peek(1) // consumes nothing, so a timeout leaves the stream whole
		c.nc.SetReadDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.mu.Lock()
			c.handoverLocked()
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
		c.handoverLocked()
	} else {
		c.reader = readNone
	}
	c.mu.Unlock()
}

func (c *Conn) wakeWriter() {
	select {
	case c.wake <- struct{}{}:
	default: // the writer is already due to run
	}
}

// write writes buf, bounded by WriteTimeout; only the write side's owner
// calls it. A deadline error comes back as ErrWriteTimeout.
func (c *Conn) write(now time.Time, buf []byte) error {
	c.lastUsed.Store(now.UnixNano())
	c.writingAt.Store(now.UnixNano())
	if wt := c.cfg.WriteTimeout; wt > 0 && now.Add(wt/2).After(c.writeDeadline) {
		// Moving the socket's deadline costs a timer update: do it when
		// less than half of WriteTimeout is left, so each write gets
		// between half and all of it (the watchdog enforces the whole
		// WriteTimeout from the write's start as well).
		c.writeDeadline = now.Add(wt)
		c.nc.SetWriteDeadline(c.writeDeadline)
	}
	_, err := c.nc.Write(buf)
	c.writingAt.Store(0)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = ErrWriteTimeout
	}
	return err
}

// hasRoomLocked reports whether size more bytes of commands may queue,
// besides the room held for waiters already woken. An empty queue always
// admits, so that one command larger than MaxQueueBytes is not refused
// for ever; a batch is admitted whole when there is room for one more.
func (c *Conn) hasRoomLocked(size int) bool {
	heldN, heldBytes := c.room.Held()
	if len(c.queue)+c.inHand+c.pending.len()+heldN >= c.cfg.MaxPending {
		return false
	}
	held := c.queueBytes + heldBytes
	return held == 0 || held+size <= c.cfg.MaxQueueBytes
}

// purgeLocked removes queued commands whose context has ended (their
// futures have already failed) and returns them, for the caller to
// complete with completeExpired once c.mu is released.
func (c *Conn) purgeLocked() []request {
	kept := c.queue[:0]
	var gone []request
	for _, r := range c.queue {
		if r.ctx.Err() != nil {
			gone = append(gone, r)
			c.queueBytes -= len(r.cmd.Buf)
			continue
		}
		kept = append(kept, r)
	}
	clear(c.queue[len(kept):])
	c.queue = kept
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
	queue := c.queue
	c.queue, c.queueBytes = nil, 0
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
		h.Conn(core.ConnEvent{Kind: core.ConnClosed, Addr: c.addr, Dedicated: c.noDeadline, Err: cause})
	}
	if c.onDead != nil {
		c.onDead(c)
	}
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
	waited  time.Time       // the earliest a command in it began waiting
	taken   int             // commands of the writer's batch handled so far, sent or not
}

func (o *outgoing) reset() {
	if cap(o.buf) > 4*writeChunk {
		o.buf = make([]byte, 0, 16<<10) // one huge command: do not pin its size
	}
	o.buf, o.sinks, o.cmds, o.noReply, o.waited, o.taken = o.buf[:0], o.sinks[:0], o.cmds[:0], o.noReply[:0], time.Time{}, 0
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
		case <-c.wake:
		}
		// Let the callers that are already runnable (woken by replies)
		// queue their next commands first: they then go out in this
		// write rather than each waking the writer again.
		runtime.Gosched()
		c.mu.Lock()
		if c.writing {
			c.mu.Unlock()
			continue // a caller is writing; it wakes us if more is queued
		}
		c.writing = true
		batch := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.queueBytes, c.inHand = 0, len(batch)
		c.freedLocked()
		c.mu.Unlock()

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
				o.noReply = append(o.noReply, r.sink)
				r.cmd.Release()
				c.load.Add(-1)
			} else {
				o.sinks = append(o.sinks, r.sink)
				o.cmds = append(o.cmds, r.cmd)
			}
			if len(o.buf) >= writeChunk {
				if err := c.flush(o); err != nil {
					for _, r := range batch[i+1:] {
						core.FailNotSent(r.cmd, r.sink, err)
					}
					return
				}
				o.reset()
			}
		}
		if err := c.flush(o); err != nil {
			return
		}
		c.mu.Lock()
		c.writing = false
		if c.inHand > 0 { // commands that ended unsent: room again
			c.inHand = 0
			c.freedLocked()
		}
		if c.spare == nil {
			c.spare = batch[:0]
		}
		if len(c.queue) > 0 {
			c.wakeWriter() // queued while we wrote, after the wake-up was taken
		}
		c.mu.Unlock()
	}
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
		for i, s := range o.sinks {
			core.FailNotSent(o.cmds[i], s, err)
		}
		for _, s := range o.noReply {
			s.Complete(protocol.Value{}, err)
		}
		return err
	}
	if c.pending.len() == 0 && len(o.sinks) > 0 {
		c.since = time.Now()
		if !o.waited.IsZero() {
			c.since = o.waited // ReadTimeout bounds the whole wait
		}
	}
	c.pending.push(o.sinks...)
	c.inHand -= o.taken
	if c.reader == readNone && len(o.sinks) > 0 {
		c.handoverLocked()
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

// watchdog runs beside the writer and the reader, so that neither a
// writer blocked in Write nor a reader blocked in Read can hide a dead or
// hung server: it kills the connection when the server has owed a reply
// for ReadTimeout without sending a byte, or a write has been under way
// for WriteTimeout, and it pings an idle connection every
// HealthCheckInterval.
func (c *Conn) watchdog() {
	defer c.wg.Done()
	rt, wt, hc := c.cfg.ReadTimeout, c.cfg.WriteTimeout, c.cfg.HealthCheckInterval
	if c.noDeadline {
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
		if at := c.writingAt.Load(); at != 0 && wt > 0 {
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
		queued := len(c.queue)
		if c.reader == readNone && c.err == nil {
			// A reply nobody has come for, or an idle connection whose
			// closing nobody would notice: the reader loop takes over.
			c.handoverLocked()
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
			due := time.Unix(0, c.lastUsed.Load()).Add(hc)
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
			case <-c.rdWake:
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
		vals = vals[:0]
		var rerr error
		for len(vals) < readBatch {
			v, err := c.rd.Read()
			if err != nil {
				rerr = err
				break
			}
			if v.Kind == protocol.KindPush {
				if c.cfg.OnPush != nil {
					c.cfg.OnPush(v)
				}
			} else {
				vals = append(vals, v)
			}
			if c.rd.Buffered() == 0 {
				break
			}
		}
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
				c.reader = readNone
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

// ring is a FIFO of sinks that reuses its storage.
type ring struct {
	buf        []core.Sink
	head, size int
}

func (r *ring) len() int { return r.size }

func (r *ring) push(ss ...core.Sink) {
	if r.size+len(ss) > len(r.buf) {
		n := max(2*len(r.buf), r.size+len(ss), 64)
		nb := make([]core.Sink, n)
		for i := 0; i < r.size; i++ {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	for _, s := range ss {
		r.buf[(r.head+r.size)%len(r.buf)] = s
		r.size++
	}
}

func (r *ring) pop() (core.Sink, bool) {
	if r.size == 0 {
		return nil, false
	}
	s := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return s, true
}

func (r *ring) drain() []core.Sink {
	out := make([]core.Sink, 0, r.size)
	for {
		s, ok := r.pop()
		if !ok {
			return out
		}
		out = append(out, s)
	}
}

// ctxCause returns ctx's error in place of err when ctx is why err
// happened, so that callers can match it with errors.Is: net reports an
// ended context as its own timeout or cancellation errors, and a socket
// deadline copied from ctx may fire a moment before ctx itself ends.
func ctxCause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return context.DeadlineExceeded
		}
	}
	return err
}
