package pool

import (
	"context"
	"errors"
	"time"
)

// drainPoll is how often Drain looks at the commands out.
const drainPoll = 2 * time.Millisecond

// ErrSilent is Drain's error when the server has sent nothing for the
// quiet period while commands are out.
var ErrSilent = errors.New("pool: the server fell silent with commands out")

// Drain waits until no command is queued or awaiting a reply on the
// pool's shared connections. It sends nothing itself: a controller that
// has stopped writing to a server (Hold) drains its pool before closing
// it, so that the commands already written get their replies instead of
// failing in flight.
//
// It gives up with ErrSilent as soon as a connection with commands out
// has received nothing for quiet (at once if that is already so when
// it is called): a server that stopped answering — paused, cut off — may
// run those commands much later, when what they did can no longer be
// trusted (a master that wakes up after its failover), so they are
// better failed as in flight. It returns ctx's error when ctx ends first.
// Dedicated connections lent out are not waited for.
func (p *Pool) Drain(ctx context.Context, quiet time.Duration) error {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		out, last := p.Outstanding()
		switch {
		case out == 0:
			return nil
		case time.Since(last) > quiet:
			return ErrSilent
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return ErrClosed
		case <-t.C:
		}
	}
}

// Outstanding returns the commands out on the shared connections and
// the latest time one of the connections that have some received bytes:
// a server that has commands out and has sent nothing for long is
// paused, cut off, or busy with a slow command.
func (p *Pool) Outstanding() (n int64, lastRead time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var last int64
	for _, c := range p.conns {
		if c == nil {
			continue
		}
		if l := c.Load(); l > 0 {
			n += l
			last = max(last, c.lastRead.Load())
		}
	}
	return n, time.Unix(0, last)
}

// DialStall returns when the oldest dial under way began, while commands
// wait for a connection (zero otherwise): a dial to a host that is gone,
// or a handshake a server never answers, gives no other sign until
// DialTimeout, and those commands wait for it.
func (p *Pool) DialStall() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var oldest time.Time
	if p.waiting.Len() == 0 {
		return oldest
	}
	for i, d := range p.dialing {
		if d && (oldest.IsZero() || p.dialAt[i].Before(oldest)) {
			oldest = p.dialAt[i]
		}
	}
	return oldest
}
