package pool

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool/waitline"
	"github.com/asyncredis/asyncredis/protocol"
)

// Pool spreads pipelined commands over a few shared connections and lends
// dedicated connections for blocking commands, transactions and pub/sub.
// It implements core.Executor; Close stops everything it started.
type Pool struct {
	cfg     Config
	nshared int // len(conns), fixed by New

	ctx    context.Context // ended by Close, abandoning dials under way
	cancel context.CancelFunc

	wake chan struct{} // capacity 1; written to ask the maintainer to act; never closed
	done chan struct{} // closed by Close
	sem  chan struct{} // one token per dedicated connection lent out

	mu        sync.Mutex              // guards the fields below
	conns     []*Conn                 // the shared connections by index (MinSize of them); nil while being dialled
	dialing   []bool                  // a dial for that index is under way
	flushing  []bool                  // its connection is taking over the commands that waited for it
	waiting   *waitline.Line[request] // commands waiting for a connection, keyed by its index
	idle      []*Conn                 // dedicated connections not lent out
	lent      map[*Conn]struct{}
	subs      map[*Conn]struct{} // subscriber connections, closed with the pool
	dialErr   error              // the last failed dial, while backing off
	retryAt   time.Time          // no dial before this after failures
	backoff   core.Backoff       // between failed dials
	closed    bool
	closeOnce sync.Once

	wg sync.WaitGroup // the maintainer, dials and blocking-command runners
}

// New starts a pool. It does not wait for connections: the first commands
// wait for (or fail with) the first dial. Config errors are returned.
func New(cfg Config) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{
		cfg:     cfg,
		ctx:     ctx,
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		sem:     make(chan struct{}, cfg.MaxSize),
		lent:    map[*Conn]struct{}{},
		subs:    map[*Conn]struct{}{},
		backoff: core.Backoff{Min: cfg.ReconnectBackoff, Max: cfg.MaxReconnectBackoff},
	}
	n := max(cfg.MinSize, 1)
	p.nshared = n
	p.conns, p.dialing, p.flushing = make([]*Conn, n), make([]bool, n), make([]bool, n)
	p.waiting = waitline.New(&p.mu, cfg.MaxPending, cfg.MaxQueueBytes, failExpired)
	p.wg.Add(1)
	go p.maintain()
	return p, nil
}

// Config returns the pool's configuration with defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// Exec implements core.Executor: blocking commands run on a dedicated
// connection, others are pipelined on the shared connection that the
// command's key picks, so that commands on one key run in issue order.
func (p *Pool) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	if h := p.cfg.Hooks; h != nil {
		sink = hookSink(h, ctx, p.cfg.Addr, p.cfg.DB, 1, cmd, sink)
	}
	if cmd.Blocking {
		p.execBlocking(ctx, cmd, sink)
		return
	}
	if c := p.route(ctx, p.index(cmd), cmd, sink); c != nil {
		c.Exec(ctx, cmd, sink)
	}
}

// index picks the shared connection for cmd by its key's hash slot.
func (p *Pool) index(cmd *core.Command) int {
	if p.nshared == 1 {
		return 0
	}
	return int(cmd.KeySlot()) % p.nshared
}

// route returns the shared connection for cmd, or nil when it has failed
// the command or queued it to wait for that connection. While a new
// connection takes over the commands that waited for it, later commands
// queue behind them, so none overtakes an earlier one.
func (p *Pool) route(ctx context.Context, i int, cmd *core.Command, sink core.Sink) *Conn {
	size := len(cmd.Buf)
	p.mu.Lock()
	var me *waitline.Waiter // set once this caller has waited for room
	for {
		if p.closed {
			p.mu.Unlock()
			core.FailNotSent(cmd, sink, &ConnError{Addr: p.cfg.Addr, Err: ErrClosed})
			return nil
		}
		// A caller woken for room that leaves without taking it passes
		// the room on.
		c := p.conns[i]
		if c != nil && !p.flushing[i] {
			if me != nil {
				p.waiting.Freed()
			}
			p.mu.Unlock()
			return c
		}
		if c == nil && p.dialErr != nil && time.Now().Before(p.retryAt) {
			if me != nil {
				p.waiting.Freed()
			}
			err := p.dialErr
			p.mu.Unlock()
			core.FailNotSent(cmd, sink, err) // fail fast while backing off
			return nil
		}
		// Callers already waiting for room go first.
		if (me != nil || !p.waiting.Room.Waiting()) && p.waiting.HasRoom(size) {
			break
		}
		// Full: wait for room, bounded by ctx (and by dials, which
		// either take the waiting commands or fail them).
		me = p.waiting.Room.Join(me, 1, size)
		if err := p.waiting.Room.Await(&p.mu, me, ctx, p.done, p.waiting.Freed); err != nil {
			p.mu.Unlock()
			core.FailNotSent(cmd, sink, err)
			return nil
		}
	}
	p.waiting.Push(ctx, i, request{ctx: ctx, cmd: cmd, sink: sink, at: time.Now()}, size)
	p.mu.Unlock()
	p.poke()
	return nil
}

// failExpired fails a command whose context ended while it waited for a
// connection: it was never sent.
func failExpired(r request, err error) {
	r.cmd.Release()
	r.sink.Complete(protocol.Value{}, core.NotSent(err))
}

// ErrNeedsRESP3 is returned for a subscriber connection to a server that
// does not speak RESP3 (Redis 6 or newer does).
// It is permanent (core.IsPermanent).
var ErrNeedsRESP3 = core.NewPermanent("pool: pub/sub needs RESP3")

// Subscriber dials a connection for pub/sub whose push frames go to
// onPush (on the connection's reader goroutine; it must not block). It is
// the caller's to Close; the pool closes it too when it closes.
func (p *Pool) Subscriber(ctx context.Context, onPush func(protocol.Value)) (core.SubConn, error) {
	cfg := p.cfg
	cfg.Protocol, cfg.OnPush = 3, onPush
	if p.Closed() {
		return nil, ErrClosed
	}
	var c *Conn
	c, err := p.dialWith(ctx, cfg, subscriber, func(c *Conn) {
		p.mu.Lock()
		delete(p.subs, c)
		p.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	if c.Protocol() != 3 {
		c.Close()
		return nil, ErrNeedsRESP3
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return nil, ErrClosed
	}
	p.subs[c] = struct{}{}
	p.mu.Unlock()
	return c, nil
}

// ExecBatch sends several commands in order on one shared connection,
// the one the first command's key picks (core.BatchExecutor).
func (p *Pool) ExecBatch(ctx context.Context, cmds []*core.Command, sinks []core.Sink) {
	if h := p.cfg.Hooks; h != nil {
		sinks = hookSinks(h, ctx, p.cfg.Addr, p.cfg.DB, cmds, sinks)
	}
	i := p.index(cmds[0])
	p.mu.Lock()
	c := p.conns[i]
	if c == nil || p.closed || p.flushing[i] {
		p.mu.Unlock()
		for j := range cmds { // wait for the connection one by one, order kept
			if c := p.route(ctx, i, cmds[j], sinks[j]); c != nil {
				c.Exec(ctx, cmds[j], sinks[j])
			}
		}
		return
	}
	p.mu.Unlock()
	c.ExecBatch(ctx, cmds, sinks)
}

// AcquireExecutor lends a dedicated connection (core.Acquirer).
func (p *Pool) AcquireExecutor(ctx context.Context) (core.Executor, func(discard bool), error) {
	c, err := p.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c, func(discard bool) {
		if discard {
			c.Close()
		}
		p.Release(c)
	}, nil
}

func (p *Pool) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// maintain keeps every shared connection open, redialling with backoff,
// and closes dedicated connections idle for IdleTimeout.
func (p *Pool) maintain() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := time.Hour
		p.mu.Lock()
		var expired []*Conn
		if !p.closed {
			wait := time.Until(p.retryAt)
			for i, c := range p.conns {
				if c != nil || p.dialing[i] {
					continue
				}
				if wait > 0 {
					next = min(next, wait)
					break
				}
				p.startDialLocked(i)
			}
			var due time.Duration
			expired, due = p.expireIdleLocked()
			next = min(next, due)
		}
		p.mu.Unlock()
		for _, c := range expired {
			c.Close()
		}
		timer.Reset(next)
		select {
		case <-p.done:
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// expireIdleLocked removes the dedicated connections idle for
// IdleTimeout, for the caller to close, and says when the next one is due.
func (p *Pool) expireIdleLocked() (expired []*Conn, next time.Duration) {
	next = time.Hour
	if p.cfg.IdleTimeout < 0 {
		return nil, next
	}
	now := time.Now()
	kept := p.idle[:0]
	for _, c := range p.idle {
		if left := p.cfg.IdleTimeout - now.Sub(c.idleSince); left > 0 {
			kept = append(kept, c)
			next = min(next, left)
		} else {
			expired = append(expired, c)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	return expired, next
}

// startDialLocked dials shared connection i in the background.
func (p *Pool) startDialLocked(i int) {
	p.dialing[i] = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		c, err := dial(p.ctx, p.cfg, shared, p.removeShared)
		p.mu.Lock()
		p.dialing[i] = false
		if err != nil {
			waiters := p.dialFailedLocked(err)
			p.mu.Unlock()
			for _, w := range waiters {
				core.FailNotSent(w.cmd, w.sink, err)
			}
			p.poke()
			return
		}
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns[i] = c
		p.flushing[i] = true
		p.dialErr = nil
		p.backoff.Reset()
		// Hand over the waiting commands in order; commands that arrive
		// meanwhile queue behind them (route), until none is left.
		for {
			if p.conns[i] != c {
				// c died meanwhile: its successor hands over what waits.
				p.mu.Unlock()
				return
			}
			waiters := p.waiting.Take(i)
			if len(waiters) == 0 {
				p.flushing[i] = false
				// Callers still in line for room now find the connection.
				p.waiting.Room.WakeAll()
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
			for _, w := range waiters {
				c.execWaited(w)
			}
			p.mu.Lock()
		}
	}()
}

// dialFailedLocked records a failed dial, schedules the next attempt and
// returns the commands waiting for a connection, for the caller to fail
// once the lock is released.
func (p *Pool) dialFailedLocked(err error) []request {
	p.retryAt = time.Now().Add(p.backoff.Next())
	p.dialErr = err
	return p.waiting.TakeAll()
}

// removeShared drops a dead shared connection and asks for a new one.
func (p *Pool) removeShared(c *Conn) {
	p.mu.Lock()
	for i, o := range p.conns {
		if o == c {
			p.conns[i] = nil
			break
		}
	}
	p.mu.Unlock()
	p.poke()
}

// dialOwn dials a dedicated connection, bounded by both the caller's
// context and the pool's (Close abandons it).
func (p *Pool) dialOwn(ctx context.Context, onDead func(*Conn)) (*Conn, error) {
	return p.dialWith(ctx, p.cfg, dedicated, onDead)
}

func (p *Pool) dialWith(ctx context.Context, cfg Config, kind connKind, onDead func(*Conn)) (*Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	return dial(ctx, cfg, kind, onDead)
}

// Acquire lends a dedicated connection, dialling one if none is idle, for
// transactions, pub/sub and other stateful use. Give it back with Release.
// It waits while MaxSize dedicated connections are lent out, at most until
// ctx ends.
func (p *Pool) Acquire(ctx context.Context) (*Conn, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	c.hooks = p.cfg.Hooks // what the caller sends on it is observed there
	return c, nil
}

// acquire is Acquire for the pool's own use: the connection observes
// nothing (the pool's Exec already did).
func (p *Pool) acquire(ctx context.Context) (*Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, ErrClosed
	}
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if c.Err() == nil {
			p.lent[c] = struct{}{}
			p.mu.Unlock()
			return c, nil
		}
		c.Close()
	}
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return nil, ErrClosed
	}
	p.mu.Unlock()
	c, err := p.dialOwn(ctx, nil)
	if err != nil {
		<-p.sem
		return nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		<-p.sem
		return nil, ErrClosed
	}
	p.lent[c] = struct{}{}
	p.mu.Unlock()
	return c, nil
}

// Release gives back a connection from Acquire. A dead connection, or one
// released after Close, is closed instead of kept.
func (p *Pool) Release(c *Conn) {
	p.mu.Lock()
	if _, ok := p.lent[c]; !ok {
		p.mu.Unlock()
		return
	}
	delete(p.lent, c)
	keep := !p.closed && c.Err() == nil && c.Load() == 0
	first := false
	if keep {
		c.hooks = nil // until the next Acquire
		c.idleSince = time.Now()
		p.idle = append(p.idle, c)
		first = len(p.idle) == 1
	}
	p.mu.Unlock()
	if !keep {
		c.Close()
	} else if first && p.cfg.IdleTimeout >= 0 {
		p.poke() // the maintainer's timer is not set for idle connections yet
	}
	<-p.sem
}

// execBlocking runs a blocking command on a dedicated connection, in a
// goroutine the pool owns, so that Exec itself does not block. When ctx
// ends first the caller gets ctx.Err() at once, and the pool wakes the
// server's side with CLIENT UNBLOCK and puts back anything the command
// took anyway (see core.UndoBlocking), so nothing is lost; without a
// client id it closes the connection instead.
func (p *Pool) execBlocking(ctx context.Context, cmd *core.Command, sink core.Sink) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		core.FailNotSent(cmd, sink, &ConnError{Addr: p.cfg.Addr, Err: ErrClosed})
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		c, err := p.acquire(ctx)
		if err != nil {
			core.FailNotSent(cmd, sink, err)
			return
		}
		encoded := append([]byte(nil), cmd.Buf...) // cmd is released once written
		w := &blockingSink{sink: sink, done: make(chan struct{})}
		c.Exec(ctx, cmd, w)
		select {
		case <-w.done:
		case <-ctx.Done():
			if w.abandon(ctx.Err()) && !p.unblock(c, w) {
				c.Close()
			}
		case <-p.done:
			c.Close()
		}
		<-w.done // at the latest when c is closed
		if v, ok := w.unread(); ok && c.Err() == nil {
			p.putBack(encoded, v)
		}
		p.Release(c)
	}()
}

// putBack returns what an abandoned blocking command took (see
// core.UndoBlocking).
func (p *Pool) putBack(encoded []byte, v protocol.Value) {
	undo := core.UndoBlocking(encoded, v)
	if undo == nil {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.WriteTimeout+p.cfg.ReadTimeout)
	defer cancel()
	put := core.NewCommand()
	put.Buf, _ = protocol.AppendCommand(put.Buf, undo...)
	w := newReplyWaiter()
	p.Exec(ctx, put, w)
	w.wait(ctx)
}

// unblock wakes the abandoned blocking command on c and puts back what it
// took; it reports whether c is in a known state again.
func (p *Pool) unblock(c *Conn, b *blockingSink) bool {
	if c.clientID == 0 {
		return false
	}
	wait := p.cfg.ReadTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	// An UNBLOCK that reaches the server before the command itself finds
	// nothing blocked (0): try again a few times, briefly.
	for try := 1; ; try++ {
		un := core.NewCommand()
		un.Buf, _ = protocol.AppendCommand(un.Buf, "CLIENT", "UNBLOCK", c.clientID)
		w := newReplyWaiter()
		p.Exec(ctx, un, w)
		v, err := w.wait(ctx)
		if err == nil {
			err = v.Err()
		}
		if err != nil {
			return false
		}
		n := v.Int
		if n == 1 || try == 5 {
			break
		}
		t := time.NewTimer(time.Duration(try) * 10 * time.Millisecond)
		select {
		case <-b.done:
			t.Stop()
		case <-t.C:
			continue
		}
		break
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return false
	}
	if b.err != nil {
		// Refused unsent because its context had ended: the connection
		// never saw it. Anything else leaves the connection in doubt.
		return c.Err() == nil && (errors.Is(b.err, context.Canceled) || errors.Is(b.err, context.DeadlineExceeded))
	}
	return true
}

// blockingSink forwards the reply of a blocking command to the caller,
// unless the caller has left; then it keeps the unread reply so that the
// pool can put back what the command took. The caller is completed once:
// by the reply or by abandon, whichever comes first.
type blockingSink struct {
	sink core.Sink
	done chan struct{} // closed by Complete

	mu     sync.Mutex     // guards the fields below
	state  int            // sinkPending, sinkCompleted or sinkAbandoned
	unseen bool           // the reply reached no caller
	late   protocol.Value // that reply
	err    error          // the failure that came instead of a reply, once abandoned
}

const (
	sinkPending = iota
	sinkCompleted
	sinkAbandoned
)

func (w *blockingSink) Complete(v protocol.Value, err error) {
	w.mu.Lock()
	forward := w.state == sinkPending
	if forward {
		w.state = sinkCompleted
	} else {
		w.late, w.err, w.unseen = v, err, err == nil
	}
	w.mu.Unlock()
	// A future whose context ended at this very moment may refuse the
	// reply: then it is as if the caller had left.
	if forward && !core.Offer(w.sink, v, err) && err == nil {
		w.mu.Lock()
		w.late, w.unseen = v, true
		w.mu.Unlock()
	}
	close(w.done)
}

// abandon fails the caller with err unless the reply already came; it
// reports whether it did.
func (w *blockingSink) abandon(err error) bool {
	w.mu.Lock()
	if w.state != sinkPending {
		w.mu.Unlock()
		return false
	}
	w.state = sinkAbandoned
	w.mu.Unlock()
	w.sink.Complete(protocol.Value{}, err)
	return true
}

// unread returns a reply that reached no caller; call it after done.
func (w *blockingSink) unread() (protocol.Value, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.late, w.unseen
}

// Stats describes a pool at one moment.
type Stats struct {
	Conns     int   // live shared connections
	Dedicated int   // dedicated connections, lent out or idle
	Lent      int   // dedicated connections lent out
	Idle      int   // connections with nothing queued or in flight
	InFlight  int64 // commands queued or awaiting replies on shared connections
	Waiting   int   // commands waiting for a first connection
}

// Stats reports the pool's connections and load.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Dedicated: len(p.idle) + len(p.lent), Lent: len(p.lent), Idle: len(p.idle), Waiting: p.waiting.Len()}
	for _, c := range p.conns {
		if c == nil {
			continue
		}
		s.Conns++
		l := c.Load()
		s.InFlight += l
		if l == 0 {
			s.Idle++
		}
	}
	return s
}

// Closed reports whether Close has been called.
func (p *Pool) Closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Close closes every connection and waits for all of the pool's
// goroutines. Commands in flight fail with a *ConnError. Idempotent.
func (p *Pool) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		var conns []*Conn
		for _, c := range p.conns {
			if c != nil {
				conns = append(conns, c)
			}
		}
		conns = append(conns, p.idle...)
		for c := range p.lent {
			conns = append(conns, c)
		}
		for c := range p.subs {
			conns = append(conns, c)
		}
		waiters := p.waiting.TakeAll()
		clear(p.conns)
		p.idle = nil
		p.mu.Unlock()
		close(p.done)
		p.cancel()
		for _, w := range waiters {
			core.FailNotSent(w.cmd, w.sink, &ConnError{Addr: p.cfg.Addr, Err: ErrClosed})
		}
		for _, c := range conns {
			c.Close()
		}
	})
	p.wg.Wait()
	p.waiting.Wait()
	return nil
}

// replyWaiter is a one-shot core.Sink for the pool's own commands.
type replyWaiter chan reply

type reply struct {
	v   protocol.Value
	err error
}

func newReplyWaiter() replyWaiter { return make(replyWaiter, 1) }

// Complete implements core.Sink; the buffer of one means it never blocks.
func (w replyWaiter) Complete(v protocol.Value, err error) { w <- reply{v, err} }

// wait returns the reply, or ctx's error if it ends first.
func (w replyWaiter) wait(ctx context.Context) (protocol.Value, error) {
	select {
	case r := <-w:
		return r.v, r.err
	case <-ctx.Done():
		return protocol.Value{}, ctx.Err()
	}
}
