package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/protocol"
)

// Pool spreads pipelined commands over a few shared connections and lends
// dedicated connections for blocking commands, transactions and pub/sub.
// It implements async.Executor; Close stops everything it started.
type Pool struct {
	cfg Config

	ctx    context.Context // ended by Close, abandoning dials under way
	cancel context.CancelFunc

	wake chan struct{} // capacity 1; written to ask the maintainer to act; never closed
	done chan struct{} // closed by Close
	sem  chan struct{} // one token per dedicated connection lent out

	mu        sync.Mutex // guards the fields below
	conns     []*Conn    // live shared connections
	next      int        // round-robin cursor into conns
	dialing   int        // shared dials under way
	waiters   []request  // commands waiting for a first connection
	idle      []*Conn    // dedicated connections not lent out
	lent      map[*Conn]struct{}
	subs      map[*Conn]struct{} // subscriber connections, closed with the pool
	dialErr   error              // the last failed dial, while backing off
	retryAt   time.Time          // no dial before this after failures
	backoff   time.Duration
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
		cfg:    cfg,
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		sem:    make(chan struct{}, cfg.MaxSize),
		lent:   map[*Conn]struct{}{},
		subs:   map[*Conn]struct{}{},
	}
	p.wg.Add(1)
	go p.maintain()
	return p, nil
}

// Config returns the pool's configuration with defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// Exec implements async.Executor: blocking commands run on a dedicated
// connection, others are pipelined on a shared one.
func (p *Pool) Exec(ctx context.Context, cmd *async.Command, sink async.Sink) {
	if cmd.Blocking {
		p.execBlocking(ctx, cmd, sink)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		async.FailNotSent(cmd, sink, &ConnError{Addr: p.cfg.Addr, Err: ErrClosed})
		return
	}
	c := p.pickLocked()
	if c == nil {
		if p.dialErr != nil && time.Now().Before(p.retryAt) {
			err := p.dialErr
			p.mu.Unlock()
			async.FailNotSent(cmd, sink, err) // fail fast while backing off
			return
		}
		p.waiters = append(p.waiters, request{ctx: ctx, cmd: cmd, sink: sink})
		p.mu.Unlock()
		p.poke()
		return
	}
	p.mu.Unlock()
	c.Exec(ctx, cmd, sink)
}

// ErrNeedsRESP3 is returned for a subscriber connection to a server that
// does not speak RESP3 (Redis 6 or newer does).
var ErrNeedsRESP3 = errors.New("pool: pub/sub needs RESP3")

// Subscriber dials a connection for pub/sub whose push frames go to
// onPush (on the connection's reader goroutine; it must not block). It is
// the caller's to Close; the pool closes it too when it closes.
func (p *Pool) Subscriber(ctx context.Context, onPush func(protocol.Value)) (async.SubConn, error) {
	cfg := p.cfg
	cfg.Protocol, cfg.OnPush = 3, onPush
	var c *Conn
	c, err := dial(ctx, cfg, true, func(c *Conn) {
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

// ExecBatch sends several commands in order on one shared connection
// (async.BatchExecutor).
func (p *Pool) ExecBatch(ctx context.Context, cmds []*async.Command, sinks []async.Sink) {
	p.mu.Lock()
	c := p.pickLocked()
	closed := p.closed
	p.mu.Unlock()
	if c == nil || closed {
		for i := range cmds { // wait for a connection one by one, order kept
			p.Exec(ctx, cmds[i], sinks[i])
		}
		return
	}
	c.ExecBatch(ctx, cmds, sinks)
}

// AcquireExecutor lends a dedicated connection (async.Acquirer).
func (p *Pool) AcquireExecutor(ctx context.Context) (async.Executor, func(discard bool), error) {
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

// pickLocked returns the next live shared connection, asking for another
// when every one is busier than PipelineThreshold.
func (p *Pool) pickLocked() *Conn {
	n := len(p.conns)
	if n == 0 {
		return nil
	}
	p.next = (p.next + 1) % n
	c := p.conns[p.next]
	if c.Load() > int64(p.cfg.PipelineThreshold) {
		best := c
		for _, o := range p.conns {
			if o.Load() < best.Load() {
				best = o
			}
		}
		c = best
		if c.Load() > int64(p.cfg.PipelineThreshold) && n+p.dialing < p.cfg.MaxSize {
			p.startDialLocked()
		}
	}
	return c
}

func (p *Pool) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// maintain keeps MinSize shared connections open, redialling with backoff.
func (p *Pool) maintain() {
	defer p.wg.Done()
	for {
		var timer <-chan time.Time
		p.mu.Lock()
		want := max(p.cfg.MinSize, min(1, len(p.waiters)))
		if !p.closed && len(p.conns)+p.dialing < want {
			if wait := time.Until(p.retryAt); wait > 0 {
				timer = time.After(wait)
			} else {
				p.startDialLocked()
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			return
		case <-p.wake:
		case <-timer:
		}
	}
}

// startDialLocked dials one shared connection in the background.
func (p *Pool) startDialLocked() {
	p.dialing++
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		c, err := p.dialConn(false)
		p.mu.Lock()
		p.dialing--
		if err != nil {
			waiters := p.dialFailedLocked(err)
			p.mu.Unlock()
			for _, w := range waiters {
				async.FailNotSent(w.cmd, w.sink, err)
			}
			p.poke()
			return
		}
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns = append(p.conns, c)
		p.dialErr, p.backoff = nil, 0
		waiters := p.waiters
		p.waiters = nil
		p.mu.Unlock()
		for _, w := range waiters {
			c.Exec(w.ctx, w.cmd, w.sink)
		}
	}()
}

// dialFailedLocked records a failed dial, schedules the next attempt and
// returns the commands waiting for a connection, for the caller to fail
// once the lock is released.
func (p *Pool) dialFailedLocked(err error) []request {
	if p.backoff == 0 {
		p.backoff = p.cfg.ReconnectBackoff
	} else {
		p.backoff = min(2*p.backoff, p.cfg.MaxReconnectBackoff)
	}
	jitter := time.Duration(rand.Int64N(int64(p.backoff)/2 + 1))
	p.retryAt = time.Now().Add(p.backoff/2 + jitter)
	p.dialErr = err
	waiters := p.waiters
	p.waiters = nil
	return waiters
}

func (p *Pool) dialConn(dedicated bool) (*Conn, error) {
	var onDead func(*Conn)
	if !dedicated {
		onDead = p.removeShared
	}
	return dial(p.ctx, p.cfg, dedicated, onDead)
}

// removeShared drops a dead shared connection and asks for a new one.
func (p *Pool) removeShared(c *Conn) {
	p.mu.Lock()
	for i, o := range p.conns {
		if o == c {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	p.poke()
}

// Acquire lends a dedicated connection, dialling one if none is idle, for
// transactions, pub/sub and other stateful use. Give it back with Release.
// It waits while MaxSize dedicated connections are lent out, at most until
// ctx ends.
func (p *Pool) Acquire(ctx context.Context) (*Conn, error) {
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
	c, err := p.dialConn(true)
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
	if keep {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if !keep {
		c.Close()
	}
	<-p.sem
}

// execBlocking runs a blocking command on a dedicated connection, in a
// goroutine the pool owns, so that Exec itself does not block.
func (p *Pool) execBlocking(ctx context.Context, cmd *async.Command, sink async.Sink) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		async.FailNotSent(cmd, sink, &ConnError{Addr: p.cfg.Addr, Err: ErrClosed})
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		c, err := p.Acquire(ctx)
		if err != nil {
			async.FailNotSent(cmd, sink, err)
			return
		}
		w := &watched{sink: sink, done: make(chan struct{})}
		c.Exec(ctx, cmd, w)
		select {
		case <-w.done:
		case <-ctx.Done():
			// The caller gets ctx.Err(), not the closing below. The server
			// is still blocked on our behalf: only closing the connection
			// frees it.
			sink.Complete(protocol.Value{}, ctx.Err())
			c.Close()
		case <-p.done:
			c.Close()
		}
		p.Release(c)
	}()
}

// watched forwards a completion and signals it.
type watched struct {
	sink async.Sink
	done chan struct{} // closed by Complete
}

func (w *watched) Complete(v protocol.Value, err error) {
	w.sink.Complete(v, err)
	close(w.done)
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
	s := Stats{Conns: len(p.conns), Dedicated: len(p.idle) + len(p.lent), Lent: len(p.lent), Idle: len(p.idle), Waiting: len(p.waiters)}
	for _, c := range p.conns {
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
		conns := append(append([]*Conn{}, p.conns...), p.idle...)
		for c := range p.lent {
			conns = append(conns, c)
		}
		for c := range p.subs {
			conns = append(conns, c)
		}
		p.conns, p.idle = nil, nil
		waiters := p.waiters
		p.waiters = nil
		p.mu.Unlock()
		close(p.done)
		p.cancel()
		for _, w := range waiters {
			async.FailNotSent(w.cmd, w.sink, &ConnError{Addr: p.cfg.Addr, Err: ErrClosed})
		}
		for _, c := range conns {
			c.Close()
		}
	})
	p.wg.Wait()
	return nil
}
