package async

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// ErrTxFailed fails the commands of a transaction that EXEC aborted
// because a watched key changed.
var ErrTxFailed = errors.New("async: transaction aborted: a watched key changed")

// ErrTxNotSupported is returned when the client's executor cannot lend a
// dedicated connection.
var ErrTxNotSupported = errors.New("async: executor cannot lend a dedicated connection for a transaction")

// Pipeline queues commands and sends them together. Commands are queued
// through Client(); each gets its own future, which resolves after Exec.
// In transaction mode (TxPipeline) Exec wraps them in MULTI/EXEC on one
// dedicated connection. A Pipeline is safe for concurrent queueing; it is
// sent once.
type Pipeline struct {
	c  *Client
	tx bool
	q  *Client // queues into the pipeline

	mu    sync.Mutex // guards the fields below
	cmds  []*core.Command
	sinks []core.Sink
	sent  bool
}

// Pipeline returns an empty pipeline sending through c.
func (c *Client) Pipeline() *Pipeline { return c.newPipeline(false) }

// TxPipeline returns an empty pipeline that runs as one MULTI/EXEC
// transaction.
func (c *Client) TxPipeline() *Pipeline { return c.newPipeline(true) }

func (c *Client) newPipeline(tx bool) *Pipeline {
	p := &Pipeline{c: c, tx: tx}
	p.q = &Client{ex: pipelineQueue{p}, after: c}
	return p
}

// Client returns the client whose commands are queued in the pipeline.
func (p *Pipeline) Client() *Client { return p.q }

// Len is the number of queued commands.
func (p *Pipeline) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.cmds)
}

type pipelineQueue struct{ p *Pipeline }

func (q pipelineQueue) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	q.p.mu.Lock()
	defer q.p.mu.Unlock()
	if q.p.sent {
		cmd.Release()
		sink.Complete(protocol.Value{}, errors.New("async: pipeline already sent"))
		return
	}
	q.p.cmds = append(q.p.cmds, cmd)
	q.p.sinks = append(q.p.sinks, sink)
}

func (p *Pipeline) take() ([]*core.Command, []core.Sink) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = true
	cmds, sinks := p.cmds, p.sinks
	p.cmds, p.sinks = nil, nil
	return cmds, sinks
}

// Exec sends the queued commands and waits for all their futures (or
// ctx). It returns the first command error in queue order, or ctx.Err();
// NOSCRIPT is left out, because a Script answers it with EVAL on its own
// (each future still holds its own error).
func (p *Pipeline) Exec(ctx context.Context) error {
	if ctx == nil {
		return ErrNilContext
	}
	cmds, sinks := p.take()
	if len(cmds) == 0 {
		return nil
	}
	if p.tx {
		if err := p.c.sendTx(ctx, p.c.ex, nil, cmds, sinks); err != nil {
			return err
		}
	} else {
		sendBatch(ctx, p.c.ex, cmds, sinks)
	}
	return waitSinks(ctx, sinks)
}

func waitSinks(ctx context.Context, sinks []core.Sink) error {
	aw := make([]Awaitable, 0, len(sinks))
	for _, s := range sinks {
		if f, ok := s.(futureSink); ok {
			aw = append(aw, f.future())
		}
	}
	if err := WaitAll(ctx, aw...); !errors.Is(err, protocol.ErrNoScript) {
		return err
	}
	for _, a := range aw {
		if err := a.Err(); err != nil && !errors.Is(err, protocol.ErrNoScript) {
			return err
		}
	}
	return nil
}

func sendBatch(ctx context.Context, ex core.Executor, cmds []*core.Command, sinks []core.Sink) {
	if be, ok := ex.(core.BatchExecutor); ok {
		be.ExecBatch(ctx, cmds, sinks)
		return
	}
	for i := range cmds {
		ex.Exec(ctx, cmds[i], sinks[i])
	}
}

// sendTx runs cmds as MULTI ... EXEC. On a dedicated executor (inside
// Watch) it uses that; otherwise it acquires one from ex and releases it
// when EXEC's reply has come.
func (c *Client) sendTx(ctx context.Context, ex core.Executor, release func(bool), cmds []*core.Command, sinks []core.Sink) error {
	if release == nil {
		acq, ok := ex.(core.Acquirer)
		if !ok {
			for i := range cmds {
				cmds[i].Release()
				sinks[i].Complete(protocol.Value{}, ErrTxNotSupported)
			}
			return ErrTxNotSupported
		}
		dex, rel, err := acq.AcquireExecutor(ctx)
		if err != nil {
			for i := range cmds {
				core.FailNotSent(cmds[i], sinks[i], err)
			}
			return err
		}
		ex, release = dex, rel
	}
	multi := core.NewCommand()
	multi.Buf = protocol.AppendString(protocol.AppendArrayHeader(multi.Buf, 1), "MULTI")
	exec := core.NewCommand()
	exec.Buf = protocol.AppendString(protocol.AppendArrayHeader(exec.Buf, 1), "EXEC")

	tx := &txState{sinks: sinks, queueErrs: make([]error, len(sinks)), release: release}
	all := make([]*core.Command, 0, len(cmds)+2)
	allSinks := make([]core.Sink, 0, len(cmds)+2)
	all = append(append(append(all, multi), cmds...), exec)
	allSinks = append(allSinks, txQueued{tx, -1})
	for i := range cmds {
		allSinks = append(allSinks, txQueued{tx, i})
	}
	allSinks = append(allSinks, txExec{tx})
	sendBatch(context.WithoutCancel(ctx), ex, all, allSinks) // a transaction is sent whole or not at all
	return nil
}

// txState is one MULTI/EXEC exchange.
type txState struct {
	sinks     []core.Sink
	queueErrs []error // per command: its error when queued, if any
	release   func(bool)
	mu        sync.Mutex // guards multiErr
	multiErr  error
}

// txQueued receives MULTI's "OK" (i == -1) and each command's "QUEUED".
type txQueued struct {
	tx *txState
	i  int
}

func (q txQueued) Complete(v protocol.Value, err error) {
	if err == nil {
		err = v.Err()
	}
	if err == nil {
		return
	}
	q.tx.mu.Lock()
	defer q.tx.mu.Unlock()
	if q.i < 0 {
		q.tx.multiErr = err
	} else {
		q.tx.queueErrs[q.i] = err
	}
}

// txExec receives EXEC's reply and resolves every command of the
// transaction from it.
type txExec struct{ tx *txState }

func (e txExec) Complete(v protocol.Value, err error) {
	tx := e.tx
	discard := err != nil
	if err == nil {
		err = v.Err()
		if err == nil && v.IsNull() {
			err = ErrTxFailed
		}
	}
	tx.mu.Lock()
	if tx.multiErr != nil && err == nil {
		err = tx.multiErr
	}
	tx.mu.Unlock()
	switch {
	case err != nil:
		for i, s := range tx.sinks {
			if qe := tx.queueErrs[i]; qe != nil && errors.Is(err, protocol.ErrExecAbort) {
				s.Complete(protocol.Value{}, qe) // the command that made EXEC abort
			} else {
				s.Complete(protocol.Value{}, err)
			}
		}
	case len(v.Elems) != len(tx.sinks):
		err = &TypeError{Want: "EXEC reply for each command", Got: v.Kind}
		for _, s := range tx.sinks {
			s.Complete(protocol.Value{}, err)
		}
		discard = true
	default:
		for i, s := range tx.sinks {
			s.Complete(v.Elems[i], nil)
		}
	}
	if tx.release != nil {
		tx.release(discard)
	}
}

// Tx is the scope of a Watch function: its Client reads on the dedicated
// connection holding the WATCH; Queue returns the client whose commands
// run in the MULTI/EXEC block when the function returns.
type Tx struct {
	*Client
	pipe *Pipeline
}

// Queue returns the client whose commands are queued for the transaction.
func (tx *Tx) Queue() *Client { return tx.pipe.q }

// Watch runs fn with keys watched on a dedicated connection, then runs the
// commands fn queued as one transaction. It returns ErrTxFailed when a
// watched key changed, fn's error if it fails (nothing is sent), or the
// first command error. The connection goes back to the pool in every path,
// panics included (closed when its state is unknown).
func (c *Client) Watch(ctx context.Context, fn func(tx *Tx) error, keys ...string) (err error) {
	if ctx == nil {
		return ErrNilContext
	}
	acq, ok := c.ex.(core.Acquirer)
	if !ok {
		return ErrTxNotSupported
	}
	ex, release, err := acq.AcquireExecutor(ctx)
	if err != nil {
		return err
	}
	handed := false // the EXEC sink releases the connection once sent
	defer func() {
		if !handed {
			release(true) // WATCH state or a half-read reply may remain: do not reuse
		}
	}()
	dc := NewClient(ex)
	if len(keys) > 0 {
		if err := Cmd(ctx, dc, ToStatus, withKeys("WATCH", keys)...).Err(); err != nil {
			return err
		}
	}
	tx := &Tx{Client: dc, pipe: dc.newPipeline(true)}
	if err := fn(tx); err != nil {
		return err
	}
	cmds, sinks := tx.pipe.take()
	if len(cmds) == 0 {
		err := Cmd(ctx, dc, ToStatus, "UNWATCH").Err()
		handed = true
		release(err != nil)
		return err
	}
	handed = true
	c.sendTx(ctx, ex, release, cmds, sinks)
	return waitSinks(ctx, sinks)
}

// WatchRetry is Watch retried up to maxAttempts times while it fails with
// ErrTxFailed, with a short jittered pause between attempts (from 1 ms,
// doubling up to 100 ms) so that clients contending for a key do not
// collide again in step.
func (c *Client) WatchRetry(ctx context.Context, maxAttempts int, fn func(tx *Tx) error, keys ...string) error {
	var err error
	pause := core.Backoff{Min: time.Millisecond, Max: 100 * time.Millisecond}
	for attempt := 0; attempt < max(1, maxAttempts); attempt++ {
		if err = c.Watch(ctx, fn, keys...); !errors.Is(err, ErrTxFailed) {
			return err
		}
		if attempt+1 < max(1, maxAttempts) {
			if werr := pause.Wait(ctx); werr != nil {
				return werr
			}
		}
	}
	return err
}
