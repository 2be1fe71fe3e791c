package async

import (
	"context"
	"errors"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// The owner goroutine of a PubSub: it opens the connection set (or a lost
// set's successor), subscribes it to everything wanted, and reconnects
// with backoff when it is lost.

// own keeps a connection with every subscription, until Close. A set
// that can pass on what still works (core.SubSuccessor: a cluster's, one
// connection per node) is not closed when it dies or fails to subscribe:
// its successor is opened from it, keeping the connections whose
// subscriptions are intact.
func (ps *PubSub) own() {
	defer ps.wg.Done()
	defer close(ps.msgs)
	backoff, lost := core.Backoff{Min: 25 * time.Millisecond, Max: time.Second}, false
	var fired <-chan struct{} // the target change that last cut a wait short
	var prev core.SubConn     // a lost set to open the successor of
	defer func() {
		if prev != nil {
			prev.Close()
		}
	}()
	for ps.ctx.Err() == nil {
		moved := ps.targetChanged()
		conn, err := ps.open(prev)
		prev = nil
		if err == nil {
			if err = ps.attach(conn, lost); err != nil {
				prev = ps.release(conn)
			}
		}
		if err != nil {
			if ps.ctx.Err() != nil {
				return
			}
			if core.IsPermanent(err) {
				// A closed pool or a server without RESP3: reconnecting
				// cannot help. Subscribe calls report it at once.
				ps.mu.Lock()
				ps.fatal = err
				ps.mu.Unlock()
				close(ps.failed)
				ps.deliver(Message{Kind: KindDisconnected, Err: err})
				return
			}
			if moved == fired {
				moved = nil // already acted on: wait out the backoff
			}
			if ps.waitRetry(&backoff, moved) {
				fired = moved
			}
			continue
		}
		backoff.Reset()
		select {
		case <-conn.Dead():
			prev = ps.release(conn)
			lost = true
			ps.mu.Lock()
			ps.conn, ps.up = nil, make(chan struct{})
			ps.mu.Unlock()
			ps.deliver(Message{Kind: KindDisconnected, Err: errors.New("async: pub/sub connection lost")})
		case <-ps.ctx.Done():
			conn.Close()
			return
		}
	}
}

// open opens a new connection set, or prev's successor.
func (ps *PubSub) open(prev core.SubConn) (core.SubConn, error) {
	if prev == nil {
		return ps.src.Subscriber(ps.ctx, ps.onPush)
	}
	defer prev.Close() // after the successor took what it keeps
	return prev.(core.SubSuccessor).Successor(ps.ctx)
}

// release lets go of a lost set: it returns the set, still open, when its
// successor can be opened from it, else closes it (which waits for its
// reader: no onPush after this) and returns nil.
func (ps *PubSub) release(conn core.SubConn) core.SubConn {
	if _, ok := conn.(core.SubSuccessor); ok {
		return conn
	}
	conn.Close()
	return nil
}

// targetChanged returns the channel on which the source says its target
// moved (core.TargetWatcher), or nil.
func (ps *PubSub) targetChanged() <-chan struct{} {
	if tw, ok := ps.src.(core.TargetWatcher); ok {
		return tw.TargetChanged()
	}
	return nil
}

// waitRetry waits before the next connection attempt: the backoff, cut
// short when the source's target moves (a failover's new master: the
// subscriber follows it at once, as commands do) or ps closes. It
// reports whether the move cut it short.
func (ps *PubSub) waitRetry(b *core.Backoff, moved <-chan struct{}) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
	case <-moved:
		b.Reset()
		return true
	case <-ps.ctx.Done():
	}
	return false
}

// attach subscribes conn to everything wanted and makes it current; when
// that fails, conn is no longer current and the caller releases it.
func (ps *PubSub) attach(conn core.SubConn, again bool) error {
	ps.orderMu.Lock()
	ps.mu.Lock()
	var all [][]any
	for _, cmd := range []string{"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"} {
		names := ps.subs.Wanted(cmd)
		if len(names) == 0 {
			continue
		}
		args := []any{cmd}
		for _, n := range names {
			args = append(args, n)
		}
		all = append(all, args)
	}
	ps.conn = conn
	close(ps.up)
	ps.mu.Unlock()
	var futs []*Future[string]
	for _, args := range all {
		futs = append(futs, sendNoReply(ps.ctx, conn, args))
	}
	ps.orderMu.Unlock()
	for _, f := range futs {
		if err := f.Err(); err != nil {
			ps.mu.Lock()
			ps.conn, ps.up = nil, make(chan struct{})
			ps.mu.Unlock()
			return err
		}
	}
	if again {
		ps.deliver(Message{Kind: KindResubscribed})
	}
	return nil
}

func sendNoReply(ctx context.Context, ex core.Executor, args []any) *Future[string] {
	f := newFuture(ToStatus)
	cmd := core.NewCommand()
	buf, err := protocol.AppendCommand(cmd.Buf, args...)
	cmd.Buf, cmd.NoReply = buf, true
	if err != nil {
		cmd.Release()
		f.fail(err)
		return f
	}
	if !f.watch(ctx) {
		cmd.Release()
		return f
	}
	ex.Exec(ctx, cmd, f.asSink())
	return f
}
