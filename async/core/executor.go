package core

import (
	"context"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// Sink receives the outcome of one command. An Executor calls Complete
// exactly once per command it accepted, from any goroutine; a Sink that was
// already resolved by its context ignores the call.
type Sink interface {
	Complete(v protocol.Value, err error)
}

// A Consumer is a Sink that may say it keeps nothing of a reply's
// element array once Complete has returned (it has converted the
// elements into values of its own). The executor that read the reply
// then hands the array back for later replies (protocol.Reuse). Wrappers
// of sinks (hooks, blocking commands) do not implement it, so the reply
// they pass on is never reused under them.
type Consumer interface {
	Sink
	Consumes() bool
}

// Command is one encoded command on its way to a server. Commands come
// from a pool; the Executor that accepts one calls Release once it no
// longer needs the bytes.
type Command struct {
	// Buf holds the command as RESP.
	Buf []byte
	// Blocking marks commands that may hold a connection for long (BLPOP
	// and the like); executors run them on a dedicated connection.
	Blocking bool
	// NoReply marks commands whose answer comes as push frames rather
	// than a reply (SUBSCRIBE and friends under RESP3): the sink completes
	// once the command is written.
	NoReply bool
}

var commandPool = sync.Pool{New: func() any { return &Command{Buf: make([]byte, 0, 128)} }}

// NewCommand returns an empty Command from the pool.
func NewCommand() *Command { return commandPool.Get().(*Command) }

// Release returns the command to the pool. The caller must not touch it
// afterwards.
func (c *Command) Release() {
	if cap(c.Buf) > 64<<10 {
		return // let large buffers go rather than pin them
	}
	c.Buf, c.Blocking, c.NoReply = c.Buf[:0], false, false
	commandPool.Put(c)
}

// Requeuer is implemented by sinks that can take back a command that was
// never written, to send it elsewhere (a managed pool sends it to the new
// master after a failover). An executor about to fail a command it did not
// write calls Requeue first; true means the requeuer now owns cmd and will
// complete the sink itself.
type Requeuer interface {
	Requeue(cmd *Command, err error) bool
}

// FailNotSent is how executors fail a command they never wrote: the sink
// may take it back through Requeuer; otherwise cmd is released and the
// sink completed with err.
func FailNotSent(cmd *Command, sink Sink, err error) {
	err = NotSent(err)
	if rq, ok := sink.(Requeuer); ok && rq.Requeue(cmd, err) {
		return
	}
	cmd.Release()
	sink.Complete(protocol.Value{}, err)
}

// Ended returns ctx's error once ctx has ended, and
// context.DeadlineExceeded as soon as its deadline has passed, even
// before its timer has ended it: a socket deadline copied from ctx fires
// that moment earlier, and what failed because of it failed because of
// the caller, not because of the server.
func Ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// Executor sends commands to a server. Exec takes ownership of cmd and
// calls sink.Complete exactly once, with the reply or an error, from any
// goroutine. It must not block for long: waiting for the reply is the
// sink's business. ctx is the caller's: an Executor must not write a
// command whose context has already ended.
type Executor interface {
	Exec(ctx context.Context, cmd *Command, sink Sink)
}

// Offerer is a Sink that can report whether it took a reply. A blocking
// command's executor uses it to learn that an element reached a caller
// who had already left, so that it can put the element back.
type Offerer interface {
	Sink
	Offer(v protocol.Value, err error) bool
}

// Offer completes sink and reports whether it took the reply: sinks that
// are not Offerers are taken to have.
func Offer(sink Sink, v protocol.Value, err error) bool {
	if o, ok := sink.(Offerer); ok {
		return o.Offer(v, err)
	}
	sink.Complete(v, err)
	return true
}

// BatchExecutor is an Executor that can send several commands together,
// in order, on one connection, in one write. Pipelines use it when the
// executor has it.
type BatchExecutor interface {
	Executor
	ExecBatch(ctx context.Context, cmds []*Command, sinks []Sink)
}

// Acquirer is an Executor that can lend a dedicated connection, for
// transactions and WATCH. release(true) closes the connection instead of
// returning it, for a connection left in an unknown state.
type Acquirer interface {
	AcquireExecutor(ctx context.Context) (ex Executor, release func(discard bool), err error)
}

// Dedicated is implemented by executors that stand for one connection
// owned by one caller (a connection from Acquire or Dial): connection-state
// commands such as MULTI, WATCH or SELECT are allowed there.
type Dedicated interface {
	Dedicated() bool
}

// SubConn is a connection in pub/sub mode.
type SubConn interface {
	Executor
	Dead() <-chan struct{}
	Close() error
}

// SubSuccessor is implemented by pub/sub connection sets that lose part
// of their subscriptions at a time (a cluster's set, one connection per
// node): instead of opening a new set when this one is dead, or failed to
// subscribe, the subscriber asks it for its successor, which keeps the
// connections that still serve their channels (their subscriptions, and
// the messages on them, go on uninterrupted) and pushes their messages to
// the same onPush. The successor is then subscribed to everything again,
// as a new set would be (a subscription it already holds is confirmed
// again, not doubled); the old set is closed after, which closes only
// what the successor did not take.
type SubSuccessor interface {
	Successor(ctx context.Context) (SubConn, error)
}

// TargetWatcher is implemented by executors whose target a controller
// moves (the managed pools of a sentinel client): TargetChanged returns a
// channel that is closed at the next change of target, so that a
// subscriber waiting to reconnect tries the new target at once instead of
// waiting out its backoff.
type TargetWatcher interface {
	TargetChanged() <-chan struct{}
}

// SubscriberSource is an Executor that can open pub/sub connections
// (pool.Pool, and the managed pools of the sentinel package, which open
// them on the current master).
type SubscriberSource interface {
	Subscriber(ctx context.Context, onPush func(protocol.Value)) (SubConn, error)
}
