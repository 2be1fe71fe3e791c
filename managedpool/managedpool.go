package managedpool

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/waitline"
	"github.com/asyncredis/asyncredis/protocol"
)

var (
	// ErrNoAddress is the default error of commands that cannot wait for
	// a verified address (FailFast), unless Config.NotFound says otherwise.
	ErrNoAddress = errors.New("managedpool: no verified address")
	// ErrQueueFull is no longer returned: a command that finds QueueSize
	// commands (or QueueBytes) waiting for an address waits for room, in
	// order, bounded by its context. Kept so that code matching it still
	// compiles. It matches core.ErrNotSent.
	ErrQueueFull = core.NewNotSent("managedpool: queue of commands waiting for an address is full")
	// ErrClosed fails commands on a closed managed pool: core.ErrClosed,
	// the one every package returns after Close.
	ErrClosed = core.ErrClosed
)

// Config configures a managed pool.
type Config struct {
	// Pool is the template for the pool made per address, whose Addr
	// replaces Pool.Addr.
	Pool pool.Config
	// QueueSize bounds the commands waiting for a verified address;
	// default 4096. QueueBytes bounds their encoded size; default
	// Pool.MaxQueueBytes, or 8 MiB. A command that finds either bound
	// reached waits for room, in the order such callers came, at most
	// until its context ends or the managed pool closes.
	QueueSize  int
	QueueBytes int
	// FailFast fails commands at once while no verified address is known,
	// instead of queueing them.
	FailFast bool
	// NotFound makes the error of a command that finds no address with
	// FailFast (default ErrNoAddress).
	NotFound func() error
	// OnTrouble is called, on its own goroutine's time, when a connection
	// to addr fails or a reply says the node changed role (READONLY), so
	// the controller can rediscover. It must not block.
	OnTrouble func(addr string, err error)
}

// Pool is a core.Executor whose target addresses are set by a
// controller. With one address it is a master's pool; with several, a
// replicas' pool that spreads commands by their key's hash slot.
//
// A command that finds no verified address waits (bounded by QueueSize and
// its context) until SetAddrs provides one. A command that was never
// written when its connection failed or its address was replaced is
// requeued and sent to the next verified address; a command that was in
// flight fails with pool.ErrInFlight. After SetAddrs replaces an address,
// nothing more is written to it.
type Pool struct {
	cfg  Config
	done chan struct{} // closed by Close

	mu      sync.Mutex // guards the fields below
	addrs   []string
	pools   []*pool.Pool // one per addr, same order
	next    int
	waiting *waitline.Line[*entry] // commands waiting for an address
	// handingOver is set while SetAddrs hands the waiting commands over:
	// new commands queue behind them, so none overtakes an earlier one.
	handingOver bool
	// held is set by Hold: commands wait as if there were no address,
	// while the pools stay open so that commands already written finish.
	held     bool
	changed  chan struct{} // closed, and replaced, when the addresses change
	failFast bool          // Config.FailFast, until SetFailFast
	closed   bool

	gen atomic.Uint64 // bumped by every SetAddrs and Invalidate

	wg sync.WaitGroup // closes of dropped pools
}

// New returns a managed pool with no address yet.
func New(cfg Config) *Pool {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = cfg.Pool.MaxQueueBytes
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = 8 << 20
	}
	if cfg.NotFound == nil {
		cfg.NotFound = func() error { return ErrNoAddress }
	}
	p := &Pool{cfg: cfg, failFast: cfg.FailFast, done: make(chan struct{}), changed: make(chan struct{})}
	p.waiting = waitline.New(&p.mu, cfg.QueueSize, cfg.QueueBytes, failExpired)
	return p
}

// failExpired fails a command whose context ended while it waited for an
// address: it was never sent.
func failExpired(e *entry, err error) {
	cmd := e.cmd
	e.cmd = nil
	cmd.Release()
	e.Inner.Complete(protocol.Value{}, core.NotSent(err))
}

// SetFailFast switches FailFast on or off, for a controller that lets the
// first commands wait for its first verdict before failing fast.
func (p *Pool) SetFailFast(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failFast = on
}

// Addrs returns the current verified addresses.
func (p *Pool) Addrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.addrs)
}

// Exec implements core.Executor.
func (p *Pool) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	p.route(&entry{Wrapper: core.Wrapper{Inner: sink}, p: p, ctx: ctx}, cmd)
}

// ExecBatch sends several commands in order to one address
// (core.BatchExecutor).
func (p *Pool) ExecBatch(ctx context.Context, cmds []*core.Command, sinks []core.Sink) {
	p.mu.Lock()
	if p.closed || len(p.pools) == 0 || p.held {
		p.mu.Unlock()
		for i := range cmds {
			p.Exec(ctx, cmds[i], sinks[i])
		}
		return
	}
	to, gen := p.pools[pick(cmds[0], len(p.pools))], p.gen.Load()
	p.mu.Unlock()
	wrapped := make([]core.Sink, len(sinks))
	for i, s := range sinks {
		wrapped[i] = &entry{Wrapper: core.Wrapper{Inner: s}, p: p, ctx: ctx, to: to, gen: gen}
	}
	to.ExecBatch(ctx, cmds, wrapped)
}

// AcquireExecutor lends a dedicated connection to the current address
// (core.Acquirer); without one it fails like a FailFast command.
func (p *Pool) AcquireExecutor(ctx context.Context) (core.Executor, func(discard bool), error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, ErrClosed
	}
	if len(p.pools) == 0 || p.held {
		p.mu.Unlock()
		return nil, nil, p.cfg.NotFound()
	}
	p.next = (p.next + 1) % len(p.pools)
	to := p.pools[p.next]
	p.mu.Unlock()
	return to.AcquireExecutor(ctx)
}

// Subscriber dials a pub/sub connection to the current address
// (core.SubscriberSource); without one it fails like a FailFast command.
func (p *Pool) Subscriber(ctx context.Context, onPush func(protocol.Value)) (core.SubConn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if len(p.pools) == 0 {
		p.mu.Unlock()
		return nil, p.cfg.NotFound()
	}
	p.next = (p.next + 1) % len(p.pools)
	to := p.pools[p.next]
	p.mu.Unlock()
	conn, err := to.Subscriber(ctx, onPush)
	if errors.Is(err, pool.ErrClosed) {
		// That address was replaced meanwhile: not permanent for the
		// managed pool, whose next address will do.
		return nil, ErrAddrReplaced
	}
	return conn, err
}

// TargetChanged returns a channel closed at the next change of addresses
// (SetAddrs with other addresses, Invalidate) (core.TargetWatcher). Close
// does not close it: a subscriber learns of Close from ErrClosed.
func (p *Pool) TargetChanged() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// ErrAddrReplaced is returned when the address picked for a connection was
// replaced while it was being dialled; trying again uses the new one.
var ErrAddrReplaced = errors.New("managedpool: address replaced while connecting")

// How a command comes to routeFrom.
type arrival int

const (
	fresh    arrival = iota // from a caller: waits for room when the line is full
	requeued                // taken back unsent: already admitted once, joins as it is
	heldBack                // given back by a held pool: as requeued, before the commands waiting
	handover                // handed over by SetAddrs: goes before commands arriving meanwhile
)

// route sends e to the next address, or queues it when there is none.
func (p *Pool) route(e *entry, cmd *core.Command) { p.routeFrom(e, cmd, fresh) }

// routeFrom sends e to the next address or queues it to wait for one. A
// fresh command that finds the line full waits for room (Config.QueueSize).
func (p *Pool) routeFrom(e *entry, cmd *core.Command, how arrival) {
	size := len(cmd.Buf)
	p.mu.Lock()
	sendable := func() bool { return !p.closed && len(p.pools) > 0 && !p.held && (how == handover || !p.handingOver) }
	ready, err := true, error(nil)
	if !sendable() {
		ready, err = p.waiting.Admit(e.ctx, p.done, size, func() (bool, error) {
			switch {
			case sendable():
				return true, nil
			case p.closed:
				return false, ErrClosed
			case p.failFast && (len(p.pools) == 0 || p.held):
				return false, p.cfg.NotFound()
			}
			return how != fresh, nil // taken back or handed over: it queues as it is
		})
	}
	switch {
	case err != nil:
		p.mu.Unlock()
		cmd.Release()
		e.Inner.Complete(protocol.Value{}, core.NotSent(err))
	case ready && sendable():
		e.to, e.gen = p.pools[pick(cmd, len(p.pools))], p.gen.Load()
		p.mu.Unlock()
		e.to.Exec(e.ctx, cmd, e)
	default:
		e.cmd = cmd
		if how == heldBack {
			p.waiting.PushFront(e.ctx, 0, e, size)
		} else {
			p.waiting.Push(e.ctx, 0, e, size)
		}
		p.mu.Unlock()
	}
}

// pick chooses among n addresses by the command's key slot, so that
// commands on one key go to one replica, in the order they were issued.
func pick(cmd *core.Command, n int) int {
	if n == 1 {
		return 0
	}
	return int(cmd.KeySlot()) % n
}

// Stats sums the underlying pools' statistics and counts waiting commands.
func (p *Pool) Stats() pool.Stats {
	p.mu.Lock()
	pools := slices.Clone(p.pools)
	waiting := p.waiting.Len()
	p.mu.Unlock()
	var s pool.Stats
	for _, pl := range pools {
		ps := pl.Stats()
		s.Conns += ps.Conns
		s.Dedicated += ps.Dedicated
		s.Lent += ps.Lent
		s.Idle += ps.Idle
		s.InFlight += ps.InFlight
		s.Waiting += ps.Waiting
	}
	s.Waiting += waiting
	return s
}

// Close closes every pool and fails waiting commands. Idempotent; waits
// for the pools' goroutines.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	pools, waiting := p.pools, p.waiting.TakeAll()
	p.pools, p.addrs = nil, nil
	p.mu.Unlock()
	close(p.done)
	for _, e := range waiting {
		e.cmd.Release()
		e.Inner.Complete(protocol.Value{}, core.NotSent(ErrClosed))
	}
	for _, pl := range pools {
		pl.Close()
	}
	p.wg.Wait()
	p.waiting.Wait()
	return nil
}
