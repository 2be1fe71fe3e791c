package async

import (
	"context"
	"sync"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Client turns typed command methods into futures over a core.Executor.
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
	ex core.Executor
	// after sends what must follow replies to this client's commands
	// (a script's EVAL after NOSCRIPT): for a pipeline's queue, the client
	// the pipeline was sent through; nil means this client.
	after *Client
	// closer, for a client that owns what it sends through (connect's
	// clients), closes that; nil for NewClient's.
	closer func() error
	// retry, set by WithRetries, sends failed commands again.
	retry *Retries
}

// later returns the client for a command issued in reaction to a reply.
func (c *Client) later() *Client {
	if c.after != nil {
		return c.after
	}
	return c
}

// NewClient returns a client sending through ex.
func NewClient(ex core.Executor) *Client { return &Client{ex: ex} }

// NewOwningClient returns a client sending through ex whose Close calls
// closeFn once: for a client that owns its pool (the connect package
// makes its clients so).
func NewOwningClient(ex core.Executor, closeFn func() error) *Client {
	var once sync.Once
	var err error
	return &Client{ex: ex, closer: func() error {
		once.Do(func() { err = closeFn() })
		return err
	}}
}

// Close closes what the client owns: the pool, sentinel pool or cluster
// a connect function opened for it. A client made with NewClient does
// not own its executor, and Close does nothing; close the executor
// itself.
func (c *Client) Close() error {
	if c.closer == nil {
		return nil
	}
	return c.closer()
}

// Executor returns the executor the client sends through.
func (c *Client) Executor() core.Executor { return c.ex }

// send watches ctx on f and hands cmd to the executor, unless ctx already
// ended.
func send[T any](c *Client, ctx context.Context, cmd *core.Command, f *Future[T]) *Future[T] {
	if ctx == nil {
		cmd.Release()
		f.fail(ErrNilContext)
		return f
	}
	if !f.watch(ctx) {
		cmd.Release()
		return f
	}
	if c.retry != nil {
		c.ex.Exec(ctx, cmd, c.retrying(ctx, cmd, f.asSink()))
		return f
	}
	c.ex.Exec(ctx, cmd, f.asSink())
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

// copyCmd is Cmd for the typed commands whose conv copies everything it
// keeps out of the reply (ToStrings, ToStringMap, ToZs, ToBools,
// ToNullFloats): the connection then reuses the reply's element array
// once the future has it (core.Consumer).
func copyCmd[T any](ctx context.Context, c *Client, conv func(protocol.Value) (T, error), args ...any) *Future[T] {
	if err := checkCommand(c.ex, args); err != nil {
		return Failed[T](err)
	}
	f := newFuture(conv)
	f.consumes = true
	return encode(c, ctx, f, false, args)
}

func command[T any](c *Client, ctx context.Context, conv func(protocol.Value) (T, error), blocking bool, args ...any) *Future[T] {
	return encode(c, ctx, newFuture(conv), blocking, args)
}

// encode sends args as f's command.
func encode[T any](c *Client, ctx context.Context, f *Future[T], blocking bool, args []any) *Future[T] {
	cmd := core.NewCommand()
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
	cmd := core.NewCommand()
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
	cmd := core.NewCommand()
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
