package async

import (
	"context"
	"sync"

	"github.com/asyncredis/asyncredis/protocol"
)

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
	if rq, ok := sink.(Requeuer); ok && rq.Requeue(cmd, err) {
		return
	}
	cmd.Release()
	sink.Complete(protocol.Value{}, err)
}

// Executor sends commands to a server. Exec takes ownership of cmd and
// calls sink.Complete exactly once, with the reply or an error, from any
// goroutine. It must not block for long: waiting for the reply is the
// sink's business. ctx is the caller's: an Executor must not write a
// command whose context has already ended.
type Executor interface {
	Exec(ctx context.Context, cmd *Command, sink Sink)
}

// Client turns typed command methods into futures over an Executor.
// Methods return a future that resolves with the reply or with ctx.Err()
// as soon as ctx ends. A Client is safe for concurrent use.
//
// Order: commands issued one after another on a Client run in that order,
// awaited or not, over the executors of this module (pool, managedpool,
// sentinel): a command's connection is chosen by its first key's hash
// slot, so a SET followed by a GET of the same key, or any two commands
// on one shared connection, never swap. A multi-key command is ordered
// with the commands on its first key; a pipeline with the commands on its
// first command's connection. Blocking commands, TxPipeline and Watch run
// on dedicated connections: they are ordered with what the caller awaited
// before them, not with commands merely issued.
//
// Methods do not block, except that a command waits for room when its
// connection's bounded queue is full (see pool.Config.MaxPending), at
// most until its context ends.
type Client struct {
	ex Executor
}

// NewClient returns a client sending through ex.
func NewClient(ex Executor) *Client { return &Client{ex: ex} }

// Executor returns the executor the client sends through.
func (c *Client) Executor() Executor { return c.ex }

// send watches ctx on f and hands cmd to the executor, unless ctx already
// ended.
func send[T any](c *Client, ctx context.Context, cmd *Command, f *Future[T]) *Future[T] {
	if ctx == nil {
		cmd.Release()
		f.fail(ErrNilContext)
		return f
	}
	if !f.watch(ctx) {
		cmd.Release()
		return f
	}
	c.ex.Exec(ctx, cmd, f)
	return f
}

// Cmd sends any command and converts its reply with conv: the way to read
// a reply as the type the caller chooses, e.g. Cmd(ctx, c, ToBytes, "GET",
// "k"). Arguments take protocol.AppendArg's types.
func Cmd[T any](ctx context.Context, c *Client, conv func(protocol.Value) (T, error), args ...any) *Future[T] {
	return rawCommand(c, ctx, conv, false, args)
}

// rawCommand is command for the caller's own arguments: commands that
// would desync a connection or change a shared one's state are refused
// with a *CommandError.
func rawCommand[T any](c *Client, ctx context.Context, conv func(protocol.Value) (T, error), blocking bool, args []any) *Future[T] {
	if err := checkCommand(c.ex, args); err != nil {
		return Failed[T](err)
	}
	return command(c, ctx, conv, blocking, args...)
}

func command[T any](c *Client, ctx context.Context, conv func(protocol.Value) (T, error), blocking bool, args ...any) *Future[T] {
	f := newFuture(conv)
	cmd := NewCommand()
	buf, err := protocol.AppendCommand(cmd.Buf, args...)
	cmd.Buf = buf
	if err != nil {
		cmd.Release()
		f.fail(err)
		return f
	}
	cmd.Blocking = blocking
	return send(c, ctx, cmd, f)
}

// Do sends any command and returns the raw reply. Error replies become a
// failed future with a *protocol.RedisError.
//
// Commands that would shift the connection's replies (an empty command,
// the SUBSCRIBE family, MONITOR, CLIENT REPLY, QUIT, RESET, HELLO, AUTH,
// SYNC, PSYNC) are refused with a *CommandError that names the API to use
// instead; so are commands that change connection state (MULTI, EXEC,
// DISCARD, WATCH, UNWATCH, SELECT, READONLY, READWRITE, CLIENT TRACKING)
// unless the client sends through a dedicated connection (pool.Conn).
// Nothing refused is sent.
func (c *Client) Do(ctx context.Context, args ...any) *Future[protocol.Value] {
	return rawCommand(c, ctx, ToValue, false, args)
}

// DoBlocking is Do for a command that may block the connection (a custom
// blocking command): it runs on a dedicated connection. Cancelled by ctx,
// it resolves with ctx.Err() at once; the connection is woken with CLIENT
// UNBLOCK, and what BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
// BZPOPMAX or BZMPOP took anyway is put back (UndoBlocking).
func (c *Client) DoBlocking(ctx context.Context, args ...any) *Future[protocol.Value] {
	return rawCommand(c, ctx, ToValue, true, args)
}

// Get returns the value of key, or ErrNil if it does not exist.
func (c *Client) Get(ctx context.Context, key string) *Future[string] {
	f := newFuture(ToString)
	cmd := NewCommand()
	b := protocol.AppendArrayHeader(cmd.Buf, 2)
	b = protocol.AppendString(b, "GET")
	cmd.Buf = protocol.AppendString(b, key)
	return send(c, ctx, cmd, f)
}

// GetBytes is Get returning bytes.
func (c *Client) GetBytes(ctx context.Context, key string) *Future[[]byte] {
	return Cmd(ctx, c, ToBytes, "GET", key)
}

// Set sets key to value (any protocol.AppendArg type) and resolves "OK".
func (c *Client) Set(ctx context.Context, key string, value any) *Future[string] {
	f := newFuture(ToStatus)
	cmd := NewCommand()
	b := protocol.AppendArrayHeader(cmd.Buf, 3)
	b = protocol.AppendString(b, "SET")
	b = protocol.AppendString(b, key)
	var err error
	switch v := value.(type) {
	case string:
		b = protocol.AppendString(b, v)
	case []byte:
		b = protocol.AppendBytes(b, v)
	default:
		b, err = protocol.AppendArg(b, v)
	}
	cmd.Buf = b
	if err != nil {
		cmd.Release()
		f.fail(err)
		return f
	}
	return send(c, ctx, cmd, f)
}
