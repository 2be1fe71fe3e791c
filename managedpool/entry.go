package managedpool

import (
	"context"
	"errors"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// entry is a command routed through the managed pool.
type entry struct {
	core.Wrapper // the caller's sink
	p            *Pool
	ctx          context.Context
	gen          uint64 // generation it was last sent in
	to           *pool.Pool
	cmd          *core.Command // only while waiting
}

// Complete forwards the reply; a READONLY reply or a lost connection is
// reported to the controller.
func (e *entry) Complete(v protocol.Value, err error) { e.Offer(v, err) }

// Offer is Complete reporting whether the caller took the reply
// (core.Offerer).
func (e *entry) Offer(v protocol.Value, err error) bool {
	if err != nil || v.Kind == protocol.KindError {
		trouble := err
		if trouble == nil {
			if rerr := v.Err(); errors.Is(rerr, protocol.ErrReadOnly) {
				trouble = rerr
			}
		}
		if trouble != nil && !errors.Is(trouble, context.Canceled) && !errors.Is(trouble, context.DeadlineExceeded) {
			e.p.trouble(e.to, trouble)
		}
	}
	return e.Wrapper.Offer(v, err)
}

// Requeue takes back a command its pool never wrote, unless its caller's
// deadline has passed (then what failed may have failed because of it). If the addresses are
// unchanged since it was sent, the failure says the address is in doubt:
// it is dropped until the controller verifies it again, and the command
// waits for that.
func (e *entry) Requeue(cmd *core.Command, err error) bool {
	if core.Ended(e.ctx) != nil {
		return false
	}
	p := e.p
	if errors.Is(err, pool.ErrHeld) {
		// Not written because of a fence (Hold): the address is not in
		// doubt, and the command goes before those issued after it.
		p.routeFrom(e, cmd, heldBack)
		return true
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	if e.gen == p.gen.Load() && e.to != nil {
		p.dropLocked(e.to)
	}
	p.mu.Unlock()
	p.trouble(e.to, err)
	p.routeFrom(e, cmd, requeued)
	return true
}

func (p *Pool) trouble(to *pool.Pool, err error) {
	if p.cfg.OnTrouble == nil || to == nil {
		return
	}
	p.cfg.OnTrouble(to.Config().Addr, err)
}
