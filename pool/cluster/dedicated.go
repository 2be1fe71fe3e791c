package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// ExecBatch sends a pipeline: each command goes to its own slot's owner,
// as Exec sends it, in order (core.BatchExecutor). Replies resolve each
// command's own sink, so a pipeline's results come back in issue order
// whatever nodes served them; a redirect re-sends only its own command.
// Commands for the same node go to its pool as one batch.
func (c *Cluster) ExecBatch(ctx context.Context, cmds []*core.Command, sinks []core.Sink) {
	var rs []*request
	flush := func() {
		if len(rs) > 0 {
			c.submitAll(ctx, rs)
			rs = nil
		}
	}
	for i, cmd := range cmds {
		slot, err := c.slotOf(cmd)
		if err != nil || c.closed.Load() || (slot == anySlot && refusedWhole(cmd.Name())) {
			flush()
			c.Exec(ctx, cmd, sinks[i]) // split, refused or failed as Exec does
			continue
		}
		rs = append(rs, c.newRequest(ctx, cmd, sinks[i], slot))
	}
	flush()
}

// AcquireExecutor lends a dedicated connection for a transaction or
// Watch (core.Acquirer). The connection is chosen by the first command
// sent on it that has keys: a connection to the master of their slot;
// every later command must have its keys in that slot too (or none), and
// is refused with a *CrossSlotError otherwise. A MOVED or ASK reply on
// it reaches the caller as a *RedirectError (the command did not run;
// the slot map is updated from it), and a transaction with such a
// command fails whole with one.
func (c *Cluster) AcquireExecutor(ctx context.Context) (core.Executor, func(discard bool), error) {
	if c.closed.Load() {
		return nil, nil, core.NotSent(core.ErrClosed)
	}
	d := &dedicated{c: c, slot: -1}
	return d, d.release, nil
}

// dedicated is a connection lent by AcquireExecutor, bound to a node on
// its first keyed command.
type dedicated struct {
	c *Cluster

	mu   sync.Mutex // guards the fields below
	slot int        // -1 until bound; anySlot when bound by a keyless command
	ex   core.Executor
	rel  func(discard bool)
}

// Dedicated implements core.Dedicated.
func (d *dedicated) Dedicated() bool { return true }

func (d *dedicated) release(discard bool) {
	d.mu.Lock()
	rel := d.rel
	d.rel, d.ex = nil, nil
	d.mu.Unlock()
	if rel != nil {
		rel(discard)
	}
}

// bind returns the connection for commands of slot, acquiring it on
// first use.
func (d *dedicated) bind(ctx context.Context, slot int) (core.Executor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ex != nil {
		if slot != anySlot && d.slot != anySlot && slot != d.slot {
			return nil, &CrossSlotError{Command: "a transaction", Slots: []uint16{uint16(d.slot), uint16(slot)}}
		}
		if slot != anySlot && d.slot == anySlot && d.c.slots.owner[slot].Load() != d.c.anyMaster() {
			return nil, fmt.Errorf("cluster: slot %d is not served by the node this connection was bound to by a keyless command", slot)
		}
		if slot != anySlot {
			d.slot = slot
		}
		return d.ex, nil
	}
	var n *node
	if slot == anySlot {
		n = d.c.anyMaster()
	} else {
		n = d.c.slots.owner[slot].Load()
	}
	if n == nil {
		d.c.requestRefresh()
		return nil, core.NewNotSent(fmt.Sprintf("cluster: no master known for slot %d", slot))
	}
	ex, rel, err := n.pool.AcquireExecutor(ctx)
	if err != nil {
		d.c.requestRefresh()
		return nil, err
	}
	d.ex, d.rel, d.slot = ex, rel, slot
	return ex, nil
}

// Exec implements core.Executor.
func (d *dedicated) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	slot, err := d.c.slotOf(cmd)
	if sp, ok := err.(*splitNeeded); ok {
		err = &CrossSlotError{Command: sp.name}
	}
	var ex core.Executor
	if err == nil {
		ex, err = d.bind(ctx, slot)
	}
	if err != nil {
		cmd.Release()
		sink.Complete(protocol.Value{}, core.NotSent(err))
		return
	}
	ex.Exec(ctx, cmd, &redirectSink{Wrapper: core.Wrapper{Inner: sink}, c: d.c})
}

// ExecBatch implements core.BatchExecutor: a transaction (MULTI ...
// EXEC) or a pipeline inside Watch, all in one slot.
func (d *dedicated) ExecBatch(ctx context.Context, cmds []*core.Command, sinks []core.Sink) {
	slot := anySlot
	var err error
	for _, cmd := range cmds {
		s, e := d.c.slotOf(cmd)
		if sp, ok := e.(*splitNeeded); ok {
			e = &CrossSlotError{Command: sp.name}
		}
		switch {
		case e != nil:
			err = e
		case s != anySlot && slot != anySlot && s != slot:
			err = &CrossSlotError{Command: "a transaction", Slots: []uint16{uint16(slot), uint16(s)}}
		case s != anySlot:
			slot = s
		}
		if err != nil {
			break
		}
	}
	var ex core.Executor
	if err == nil {
		ex, err = d.bind(ctx, slot)
	}
	if err != nil {
		for i := range cmds {
			cmds[i].Release()
			sinks[i].Complete(protocol.Value{}, core.NotSent(err))
		}
		return
	}
	tx := &txRedirect{}
	wrapped := make([]core.Sink, len(sinks))
	for i, s := range sinks {
		wrapped[i] = &redirectSink{Wrapper: core.Wrapper{Inner: s}, c: d.c, tx: tx}
	}
	if be, ok := ex.(core.BatchExecutor); ok {
		be.ExecBatch(ctx, cmds, wrapped)
		return
	}
	for i := range cmds {
		ex.Exec(ctx, cmds[i], wrapped[i])
	}
}

// txRedirect remembers that a command of a transaction was redirected,
// so that the EXECABORT that follows fails as the redirect did.
type txRedirect struct {
	mu  sync.Mutex
	err *RedirectError
}

// redirectSink turns a MOVED or ASK reply on a dedicated connection into
// a *RedirectError (updating the slot map from a MOVED), and the
// EXECABORT of a transaction one of whose commands was redirected into
// that error too: neither ran, so both are safe to retry.
type redirectSink struct {
	core.Wrapper
	c  *Cluster
	tx *txRedirect
}

func (s *redirectSink) Complete(v protocol.Value, err error) { s.Offer(v, err) }

func (s *redirectSink) Offer(v protocol.Value, err error) bool {
	if err == nil && v.Kind == protocol.KindError {
		re := protocol.ParseError(v.Str)
		switch {
		case errors.Is(re, protocol.ErrMoved) || errors.Is(re, protocol.ErrAsk):
			if errors.Is(re, protocol.ErrMoved) {
				if slot, addr, ok := re.Redirect(); ok {
					s.c.movedTo(slot, addr, nil)
				}
			}
			rerr := &RedirectError{Err: re}
			if s.tx != nil {
				s.tx.mu.Lock()
				s.tx.err = rerr
				s.tx.mu.Unlock()
			}
			return s.Wrapper.Offer(protocol.Value{}, rerr)
		case s.tx != nil && errors.Is(re, protocol.ErrExecAbort):
			s.tx.mu.Lock()
			rerr := s.tx.err
			s.tx.mu.Unlock()
			if rerr != nil {
				return s.Wrapper.Offer(protocol.Value{}, rerr)
			}
		}
	}
	return s.Wrapper.Offer(v, err)
}
