package pool

import (
	"context"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// lender lends a pool's dedicated connections, one caller at a time:
// to Acquire (transactions, WATCH, anything stateful), to blocking
// commands (blocking.go) and, dialled fresh, to subscribers. At most
// MaxSize are lent at once; a caller waits for one bounded by its
// context. Connections given back alive and idle are kept for the next
// caller until IdleTimeout; the pool's maintainer asks expireIdle.
type lender struct {
	cfg  Config
	ctx  context.Context // the pool's: ended by Close, abandoning dials under way
	done chan struct{}   // the pool's: closed by Close
	sem  chan struct{}   // one token per connection lent out
	poke func()          // asks the pool's maintainer to look again

	mu     sync.Mutex // guards the fields below
	idle   []idleConn // given back, not lent out
	lent   map[*Conn]struct{}
	subs   map[*Conn]struct{} // subscriber connections, closed with the pool
	closed bool

	aside core.Lifecycle // closes connections that came back unfit; Pool.Close waits for it
}

// idleConn is a dedicated connection waiting to be lent again.
type idleConn struct {
	c     *Conn
	since time.Time
}

func newLender(cfg Config, ctx context.Context, done chan struct{}, poke func()) *lender {
	return &lender{cfg: cfg, ctx: ctx, done: done, poke: poke,
		sem: make(chan struct{}, cfg.MaxSize), lent: map[*Conn]struct{}{}, subs: map[*Conn]struct{}{}}
}

// dial dials a connection of kind, bounded by both the caller's context
// and the pool's (Close abandons it).
func (l *lender) dial(ctx context.Context, cfg Config, kind connKind, onDead func(*Conn)) (*Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(l.ctx, cancel)
	defer stop()
	return dial(ctx, cfg, kind, onDead)
}

// acquire lends a dedicated connection, an idle one or a new one. It
// waits while MaxSize are lent out, at most until ctx ends.
func (l *lender) acquire(ctx context.Context) (*Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		return nil, ErrClosed
	}
	l.mu.Lock()
	for len(l.idle) > 0 {
		c := l.idle[len(l.idle)-1].c
		l.idle = l.idle[:len(l.idle)-1]
		if c.Err() == nil {
			l.lent[c] = struct{}{}
			l.mu.Unlock()
			return c, nil
		}
		c.Close()
	}
	closed := l.closed
	l.mu.Unlock()
	if closed {
		<-l.sem
		return nil, ErrClosed
	}
	c, err := l.dial(ctx, l.cfg, dedicated, nil)
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		c.Close()
		<-l.sem
		return nil, ErrClosed
	}
	l.lent[c] = struct{}{}
	l.mu.Unlock()
	return c, nil
}

// release takes back a lent connection. A dead or busy one, or one given
// back after Close, is closed instead of kept.
func (l *lender) release(c *Conn) {
	l.mu.Lock()
	if _, ok := l.lent[c]; !ok {
		l.mu.Unlock()
		return
	}
	delete(l.lent, c)
	keep := !l.closed && c.Err() == nil && c.Load() == 0
	first := false
	if keep {
		c.observe(nil) // until the next Acquire
		l.idle = append(l.idle, idleConn{c: c, since: time.Now()})
		first = len(l.idle) == 1
	}
	l.mu.Unlock()
	if !keep {
		l.closeAside(c)
	} else if first && l.cfg.IdleTimeout >= 0 {
		l.poke() // the maintainer's timer is not set for idle connections yet
	}
	<-l.sem
}

// closeAside closes c on a goroutine that the pool's Close waits for: a
// connection given back may be given back from its own reader (a
// transaction's last reply releases it), which must not wait for itself.
func (l *lender) closeAside(c *Conn) {
	c.die(ErrClosed)
	// Once the pool is closing, c's goroutines end by themselves (it is
	// dead); the pool no longer waits for them.
	l.aside.Go(func() { c.Close() })
}

// ErrNeedsRESP3 is returned for a subscriber connection to a server that
// does not speak RESP3 (Redis 6 or newer does).
// It is permanent (core.IsPermanent).
var ErrNeedsRESP3 = core.NewPermanent("pool: pub/sub needs RESP3")

// subscriber dials a RESP3 connection whose push frames go to onPush. It
// is not counted against MaxSize: it is the caller's until it closes it,
// and the pool's Close closes it too.
func (l *lender) subscriber(ctx context.Context, onPush func(protocol.Value)) (*Conn, error) {
	cfg := l.cfg
	cfg.Protocol, cfg.OnPush = 3, onPush
	select {
	case <-l.done:
		return nil, ErrClosed
	default:
	}
	c, err := l.dial(ctx, cfg, subscriber, func(c *Conn) {
		l.mu.Lock()
		delete(l.subs, c)
		l.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	if c.Protocol() != 3 {
		c.Close()
		return nil, ErrNeedsRESP3
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return nil, ErrClosed
	}
	l.subs[c] = struct{}{}
	l.mu.Unlock()
	return c, nil
}

// expireIdle removes the connections idle for IdleTimeout, for the caller
// to close, and says when the next one is due.
func (l *lender) expireIdle() (expired []*Conn, next time.Duration) {
	next = time.Hour
	if l.cfg.IdleTimeout < 0 {
		return nil, next
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.idle[:0]
	for _, ic := range l.idle {
		if left := l.cfg.IdleTimeout - now.Sub(ic.since); left > 0 {
			kept = append(kept, ic)
			next = min(next, left)
		} else {
			expired = append(expired, ic.c)
		}
	}
	clear(l.idle[len(kept):])
	l.idle = kept
	return expired, next
}

// counts reports the dedicated connections lent out and idle.
func (l *lender) counts() (lent, idle int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lent), len(l.idle)
}

// close stops lending and returns every connection it knows, for the
// caller to close: idle, lent out and subscribers.
func (l *lender) close() []*Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	var conns []*Conn
	for _, ic := range l.idle {
		conns = append(conns, ic.c)
	}
	for c := range l.lent {
		conns = append(conns, c)
	}
	for c := range l.subs {
		conns = append(conns, c)
	}
	l.idle = nil
	return conns
}
