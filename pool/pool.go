package pool

import (
	"context"
	"slices"
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

	lend *lender // dedicated and subscriber connections (lender.go)

	mu          sync.Mutex              // guards the fields below
	conns       []*Conn                 // the shared connections by index (MinSize of them); nil while being dialled
	dialing     []bool                  // a dial for that index is under way
	dialAt      []time.Time             // when it began
	handingOver []bool                  // its connection is taking over the commands that waited for it
	waiting     *waitline.Line[request] // commands waiting for a connection, keyed by its index
	dialErr     error                   // the last failed dial, while backing off
	retryAt     time.Time               // no dial before this after failures
	backoff     core.Backoff            // between failed dials
	held        bool                    // Hold: nothing is written until Resume
	closed      bool
	closeOnce   sync.Once

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
		backoff: core.Backoff{Min: cfg.ReconnectBackoff, Max: cfg.MaxReconnectBackoff},
	}
	n := max(cfg.MinSize, 1)
	p.nshared = n
	p.conns, p.dialing, p.handingOver = make([]*Conn, n), make([]bool, n), make([]bool, n)
	p.dialAt = make([]time.Time, n)
	p.waiting = waitline.New(&p.mu, cfg.MaxPending, cfg.MaxQueueBytes, failExpired)
	p.lend = newLender(cfg, ctx, p.done, p.poke)
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
	if c := p.conns[i]; c != nil && !p.handingOver[i] && !p.closed && !p.held {
		p.mu.Unlock() // the common case, without a call
		return c
	}
	ready, err := p.waiting.Admit(ctx, p.done, size, func() (bool, error) {
		if err := p.refusedLocked(); err != nil {
			return false, err
		}
		if p.conns[i] != nil && !p.handingOver[i] {
			return true, nil
		}
		if p.conns[i] == nil && p.dialErr != nil && time.Now().Before(p.retryAt) {
			return false, p.dialErr // fail fast while backing off
		}
		return false, nil
	})
	// Full, the caller waited for room, bounded by ctx (and by dials,
	// which either take the waiting commands or fail them).
	switch {
	case err != nil:
		p.mu.Unlock()
		core.FailNotSent(cmd, sink, err)
		return nil
	case ready:
		c := p.conns[i]
		p.mu.Unlock()
		return c
	}
	p.waiting.Push(ctx, i, request{ctx: ctx, cmd: cmd, sink: sink, at: time.Now()}, size)
	p.mu.Unlock()
	p.poke()
	return nil
}

// refusedLocked returns why the pool takes no command now (closed, or
// held for a failover), or nil.
func (p *Pool) refusedLocked() error {
	switch {
	case p.closed:
		return &ConnError{Addr: p.cfg.Addr, Err: ErrClosed}
	case p.held:
		return ErrHeld
	}
	return nil
}

// failExpired fails a command whose context ended while it waited for a
// connection: it was never sent.
func failExpired(r request, err error) {
	r.cmd.Release()
	r.sink.Complete(protocol.Value{}, core.NotSent(err))
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
	if c == nil || p.closed || p.handingOver[i] {
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
			c.die(ErrClosed) // Release closes it, without waiting here: this may run on c's reader
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
		closed := p.closed
		if !closed {
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
		}
		p.mu.Unlock()
		if !closed {
			expired, due := p.lend.expireIdle()
			next = min(next, due)
			for _, c := range expired {
				c.Close()
			}
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

// startDialLocked dials shared connection i in the background.
func (p *Pool) startDialLocked(i int) {
	p.dialing[i] = true
	p.dialAt[i] = time.Now()
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
		if p.held {
			c.hold() // nothing is queued on it yet
		}
		p.conns[i] = c
		p.handingOver[i] = true
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
				p.handingOver[i] = false
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

// Acquire lends a dedicated connection, dialling one if none is idle, for
// transactions, pub/sub and other stateful use. Give it back with Release.
// It waits while MaxSize dedicated connections are lent out, at most until
// ctx ends.
func (p *Pool) Acquire(ctx context.Context) (*Conn, error) {
	c, err := p.lend.acquire(ctx)
	if err != nil {
		return nil, err
	}
	c.observe(p.cfg.Hooks) // what the caller sends on it is observed there
	return c, nil
}

// Release gives back a connection from Acquire. A dead connection, or one
// released after Close, is closed instead of kept.
func (p *Pool) Release(c *Conn) { p.lend.release(c) }

// Subscriber dials a connection for pub/sub whose push frames go to
// onPush (on the connection's reader goroutine; it must not block). It is
// the caller's to Close; the pool closes it too when it closes.
// Subscription commands sent on it with NoReply that the server refuses
// reach onPush as refusals, one per name (core.Ask, core.RefusalOf): the
// connection stays, and so do its subscriptions.
func (p *Pool) Subscriber(ctx context.Context, onPush func(protocol.Value)) (core.SubConn, error) {
	c, err := p.lend.subscriber(ctx, onPush)
	if err != nil {
		return nil, err
	}
	return c, nil
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
	lent, idle := p.lend.counts()
	s := Stats{Dedicated: lent + idle, Lent: lent, Idle: idle, Waiting: p.waiting.Len()}
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

// Hold stops the pool writing to its server, for a controller that has
// learned a failover of that server has started: the commands queued on
// its shared connections and not yet written, those waiting for a
// connection, and those that come until Resume fail unsent with ErrHeld
// (a managed pool takes them back, in order, to send them where the
// failover leads). Commands already being written or awaiting replies
// finish. Dedicated connections already lent out are not held.
func (p *Pool) Hold() {
	p.mu.Lock()
	p.held = true
	conns := slices.Clone(p.conns)
	waiting := p.waiting.TakeAll()
	p.mu.Unlock()
	for _, c := range conns {
		if c == nil {
			continue
		}
		for _, r := range c.hold() {
			core.FailNotSent(r.cmd, r.sink, ErrHeld)
		}
	}
	for _, r := range waiting {
		core.FailNotSent(r.cmd, r.sink, ErrHeld)
	}
}

// Resume ends Hold.
func (p *Pool) Resume() {
	p.mu.Lock()
	p.held = false
	conns := slices.Clone(p.conns)
	p.mu.Unlock()
	for _, c := range conns {
		if c != nil {
			c.unhold()
		}
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
		waiters := p.waiting.TakeAll()
		clear(p.conns)
		p.mu.Unlock()
		conns = append(conns, p.lend.close()...)
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
	p.lend.aside.Close()
	p.waiting.Wait()
	return nil
}
