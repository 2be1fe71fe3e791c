package pool

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// execBlocking runs a blocking command on a dedicated connection, in a
// goroutine the pool owns, so that Exec itself does not block. When ctx
// ends first the caller gets ctx.Err() at once, and the pool wakes the
// server's side with CLIENT UNBLOCK and puts back anything the command
// took anyway (see core.UndoBlocking), so nothing is lost; without a
// client id it closes the connection instead.
func (p *Pool) execBlocking(ctx context.Context, cmd *core.Command, sink core.Sink) {
	p.mu.Lock()
	if err := p.refusedLocked(); err != nil {
		p.mu.Unlock()
		core.FailNotSent(cmd, sink, err)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		c, err := p.lend.acquire(ctx)
		if err != nil {
			core.FailNotSent(cmd, sink, err)
			return
		}
		encoded := append([]byte(nil), cmd.Buf...) // cmd is released once written
		w := &blockingSink{Wrapper: core.Wrapper{Inner: sink}, done: make(chan struct{})}
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
		p.lend.release(c)
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
	w := core.NewReplyWaiter()
	p.Exec(ctx, put, w)
	w.Wait(ctx)
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
		w := core.NewReplyWaiter()
		p.Exec(ctx, un, w)
		v, err := w.Wait(ctx) // an error reply is an error too
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
	core.Wrapper               // the caller's sink
	done         chan struct{} // closed by Complete

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

func (w *blockingSink) Complete(v protocol.Value, err error) { w.Offer(v, err) }

// Offer implements core.Offerer. A reply always counts as taken: when the
// caller refuses it (or has left), it is kept for the put-back.
func (w *blockingSink) Offer(v protocol.Value, err error) bool {
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
	if forward && !w.Wrapper.Offer(v, err) && err == nil {
		w.mu.Lock()
		w.late, w.unseen = v, true
		w.mu.Unlock()
	}
	close(w.done)
	return true
}

// Consumes is false: the reply may be kept for the put-back, so its
// element array must not be reused.
func (w *blockingSink) Consumes() bool { return false }

// Requeue is false: the pool waits for this sink's Complete (done), so a
// command never written fails here rather than go elsewhere; the caller
// may send it again.
func (w *blockingSink) Requeue(*core.Command, error) bool { return false }

// SetPull is false: the pool waits for the reply on done, so the
// connection's reader must deliver it.
func (w *blockingSink) SetPull(*core.PullMark) bool { return false }

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
	w.Inner.Complete(protocol.Value{}, err)
	return true
}

// unread returns a reply that reached no caller; call it after done.
func (w *blockingSink) unread() (protocol.Value, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.late, w.unseen
}
