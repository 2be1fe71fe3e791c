package managedpool

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// drainTimeout bounds how long a pool left under a Hold may take to
// receive the replies of the commands written to it before the Hold, and
// drainQuiet how long it may stay silent meanwhile (pool.Pool.Drain): a
// master paused through its failover runs what it had received when it
// wakes up, still a master, and those replies must not be taken as
// acknowledgements.
const (
	drainTimeout = 5 * time.Second
	drainQuiet   = time.Second
)

// dropLocked removes one address's pool until the controller verifies it
// again; its commands in flight finish or fail on their own.
func (p *Pool) dropLocked(pl *pool.Pool) {
	i := slices.Index(p.pools, pl)
	if i < 0 {
		return
	}
	p.pools = slices.Delete(p.pools, i, i+1)
	p.addrs = slices.Delete(p.addrs, i, i+1)
	p.gen.Add(1)
	p.wg.Add(1)
	go func() { // not under the lock: Close fails queued commands, which requeue
		defer p.wg.Done()
		pl.Close()
	}()
}

// Invalidate forgets every address: new commands wait (or fail fast) until
// SetAddrs. Use it when the controller learns the address is wrong but does
// not yet know the right one.
func (p *Pool) Invalidate() { p.SetAddrs(nil) }

// Hold stops sending, for a controller that has learned a failover has
// started: commands wait (bounded by QueueSize and their context, or fail
// at once under FailFast) as if no address were known. The pools stay
// open, so that commands already written finish normally, but write
// nothing more (pool.Pool.Hold): what they had queued and not written
// comes back to wait here, in issue order. SetAddrs or Resume ends it.
func (p *Pool) Hold() {
	p.mu.Lock()
	p.held = true
	pools := slices.Clone(p.pools)
	p.mu.Unlock()
	// What the pools have not written yet comes back (entry.Requeue) and
	// waits here, before what was issued after it.
	for _, pl := range pools {
		pl.Hold()
	}
}

// Resume ends a Hold on the same addresses: the waiting commands are sent
// in order.
func (p *Pool) Resume() error { return p.SetAddrs(p.Addrs()) }

// SetAddrs makes addrs, verified by the controller, the targets, and ends
// a Hold. Pools for addresses no longer listed are closed at once: their
// commands in flight fail as pool.ErrInFlight, and those not yet written
// move to the new addresses. Under a Hold they are closed once the
// commands written before it have their replies — at most drainTimeout,
// and at once when the server has been silent for drainQuiet — since a
// held server was left while it still answered. Waiting commands are
// sent.
func (p *Pool) SetAddrs(addrs []string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	held := p.held
	p.held = false
	drop, err := p.replaceLocked(addrs)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	for _, pl := range p.pools {
		pl.Resume() // a held pool kept; takes no lock of ours
	}
	var waiting []*entry
	if len(p.pools) > 0 && p.waiting.Len() > 0 && !p.handingOver {
		waiting = p.waiting.TakeAll()
		p.handingOver = true
	}
	if held {
		for _, pl := range drop {
			p.retireLocked(pl)
		}
	}
	p.mu.Unlock()

	if !held {
		for _, pl := range drop {
			pl.Close()
		}
	}
	p.handOver(waiting)
	return nil
}

// retireLocked closes a held pool the addresses no longer list once its
// commands already written have their replies (bounded by drainTimeout,
// drainQuiet and Close), on a goroutine Close waits for: the server was
// left while it still answered (a failover's fence), and nothing
// unwritten stays in a held pool, so nothing can overtake what is handed
// over.
func (p *Pool) retireLocked(pl *pool.Pool) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		go func() {
			select {
			case <-p.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		pl.Drain(ctx, drainQuiet)
		pl.Close()
	}()
}

// replaceLocked makes addrs the targets, keeping the pools of addresses
// that stay and making pools for new ones, and returns the pools of the
// addresses dropped, for the caller to close once p.mu is released.
func (p *Pool) replaceLocked(addrs []string) (drop []*pool.Pool, err error) {
	var keep, created []*pool.Pool
	var newAddrs []string
	for _, a := range addrs {
		if slices.Contains(newAddrs, a) {
			continue
		}
		if i := slices.Index(p.addrs, a); i >= 0 {
			keep = append(keep, p.pools[i])
		} else {
			cfg := p.cfg.Pool
			cfg.Addr = a
			pl, err := pool.New(cfg)
			if err != nil {
				for _, c := range created {
					c.Close()
				}
				return nil, fmt.Errorf("managedpool: %w", err)
			}
			keep = append(keep, pl)
			created = append(created, pl)
		}
		newAddrs = append(newAddrs, a)
	}
	for i, pl := range p.pools {
		if !slices.Contains(newAddrs, p.addrs[i]) {
			drop = append(drop, pl)
		}
	}
	changed := !slices.Equal(newAddrs, p.addrs)
	p.addrs, p.pools = newAddrs, keep
	if changed {
		p.gen.Add(1)
		close(p.changed)
		p.changed = make(chan struct{})
	}
	return drop, nil
}

// handOver sends the commands that waited for an address, in order;
// those that arrive meanwhile wait behind them (routeFrom), until none is
// left. Then callers waiting for room find the address.
func (p *Pool) handOver(waiting []*entry) {
	for len(waiting) > 0 {
		for _, e := range waiting {
			cmd := e.cmd
			e.cmd = nil
			p.routeFrom(e, cmd, handover)
		}
		p.mu.Lock()
		waiting = nil
		if len(p.pools) > 0 {
			waiting = p.waiting.TakeAll()
		}
		if len(waiting) == 0 {
			p.handingOver = false
			p.waiting.Room.WakeAll()
		}
		p.mu.Unlock()
	}
}

// FailWaiting fails every command waiting for an address with err, for a
// controller that has learned no address is coming (an unknown name, bad
// credentials). Commands issued later wait again.
func (p *Pool) FailWaiting(err error) {
	p.mu.Lock()
	waiting := p.waiting.TakeAll()
	p.mu.Unlock()
	for _, e := range waiting {
		e.cmd.Release()
		e.Inner.Complete(protocol.Value{}, core.NotSent(err))
	}
}
