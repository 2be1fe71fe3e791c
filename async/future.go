package async

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Future is the eventual result of one command: a value of type T or an
// error, never both, never neither. It resolves exactly once, either when
// the reply arrives or when the context given at call time ends, whichever
// comes first; a reply that arrives after that is read and discarded.
//
// All methods are safe for concurrent use.
type Future[T any] struct {
	// A future is allocated per command, so it holds only what every
	// command needs (48 bytes for a string): the state, the value, the
	// conversion and one waiter's slot. Errors other than ErrNil, the
	// context, Done's channel and callbacks live in ext, made only when
	// needed.
	//
	// The context is not watched per command (a timer or AfterFunc per
	// command would cost more than the command): whoever looks at the
	// future first after the context ends resolves it with ctx.Err() —
	// Result waits on both, IsResolved and a late reply check it, and
	// Done and the combinators arm a watcher when they are first used.
	//
	// A connection that left the reply for the waiter to read (see
	// core.Puller) puts its mark in slot: Result and Wait then read the
	// reply themselves, Done and callbacks hand it back to the
	// connection's reader.
	state atomic.Uint32 // pending, resolving, resolved; plus failedNil
	// consumes: conv keeps nothing of a reply's element array (it copies
	// the elements out), so the connection may reuse the array once the
	// future has taken the reply (core.Consumer). Set before sending.
	consumes bool
	val      T
	conv     func(protocol.Value) (T, error)
	slot     atomic.Pointer[waiter]    // the one goroutine blocked in Result, or a connection's mark; tombstone once resolved
	ext      atomic.Pointer[futureExt] // made on demand
}

// futureExt is the part of a future few commands need.
type futureExt struct {
	err error           // the error, when it is not ErrNil; written before resolved is stored
	ctx context.Context // the command's context, if it can end; set before the command is issued
	// cause is why the executor was retrying the command, as it last
	// noted (core.CauseNoter): the context's error wraps it.
	cause atomic.Pointer[error]
	mu    sync.Mutex  // guards the fields below
	stop  func() bool // unregisters the context watcher, once armed
	done  chan struct{}
	then  []func()
}

const (
	pending uint32 = iota
	resolving
	resolved
	stateMask = 3
	failedNil = 4 // or'ed into resolved: the error is ErrNil
)

// waiter wakes the goroutine blocked in Result; it is reused, since each
// registration receives exactly one send. A waiter with a mark stands in
// the slot for a connection that left the reply for Result to read
// (core.Puller): one per connection, never sent to.
type waiter struct {
	ch   chan struct{}
	mark *core.PullMark
}

// markerOf returns the waiter that stands for m in futures' slots.
func markerOf(m *core.PullMark) *waiter {
	if w, ok := m.Token.Load().(*waiter); ok {
		return w
	}
	m.Token.CompareAndSwap(nil, &waiter{mark: m})
	return m.Token.Load().(*waiter)
}

var (
	waiters   = sync.Pool{New: func() any { return &waiter{ch: make(chan struct{}, 1)} }}
	tombstone = &waiter{}
)

// closedChan is handed out by Done for futures resolved before anyone asked.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func newFuture[T any](conv func(protocol.Value) (T, error)) *Future[T] {
	return &Future[T]{conv: conv}
}

// extension returns f's ext, making it if needed.
func (f *Future[T]) extension() *futureExt {
	if x := f.ext.Load(); x != nil {
		return x
	}
	x := &futureExt{}
	if f.ext.CompareAndSwap(nil, x) {
		return x
	}
	return f.ext.Load()
}

// Promise returns an unresolved future and the function that resolves
// it, for values computed elsewhere than by a command (a facade that asks
// several servers, a user's own work). The first call to resolve wins;
// later ones are ignored. A command's future can be resolved only by its
// executor.
func Promise[T any]() (f *Future[T], resolve func(v T, err error)) {
	f = newFuture[T](nil)
	return f, func(v T, err error) {
		if err != nil {
			var zero T
			v = zero
		}
		f.resolve(v, err)
	}
}

// Resolved returns a future that already holds v.
func Resolved[T any](v T) *Future[T] {
	f := newFuture[T](nil)
	f.resolve(v, nil)
	return f
}

// Failed returns a future that already holds err.
func Failed[T any](err error) *Future[T] {
	f := newFuture[T](nil)
	var zero T
	f.resolve(zero, err)
	return f
}

// watch binds the future to ctx: it fails with ctx.Err() once ctx ends,
// unless the reply came first. It reports false when ctx has already
// ended (the future is then resolved).
func (f *Future[T]) watch(ctx context.Context) bool {
	if ctx.Done() == nil {
		return true
	}
	if err := ctx.Err(); err != nil {
		f.fail(err)
		return false
	}
	f.extension().ctx = ctx
	return true
}

// expired resolves f with its context's error if that context has ended;
// it reports whether f is resolved.
func (f *Future[T]) expired() bool {
	if f.isResolved() {
		return true
	}
	if x := f.ext.Load(); x != nil && x.ctx != nil {
		if err := x.ctxErr(); err != nil {
			f.fail(err)
			return true // whoever won, the future is resolved or about to be
		}
	}
	return false
}

// armLocked makes the context resolve f as soon as it ends, for those
// who wait on Done or callbacks rather than in Result. x.mu is held.
func (f *Future[T]) armLocked(x *futureExt) {
	if x.ctx != nil && x.stop == nil {
		ctx := x.ctx
		x.stop = context.AfterFunc(ctx, func() { f.fail(x.ctxErr()) })
	}
}

func (f *Future[T]) fail(err error) {
	var zero T
	f.resolve(zero, err)
}

// resolve sets the outcome if no other did; it reports whether it won.
func (f *Future[T]) resolve(v T, err error) bool {
	if !f.state.CompareAndSwap(pending, resolving) {
		return false
	}
	f.val = v
	final := resolved
	switch {
	case err == ErrNil:
		final |= failedNil
	case err != nil:
		f.extension().err = err
	}
	f.state.Store(final)
	if w := f.slot.Swap(tombstone); w != nil && w.mark == nil {
		w.ch <- struct{}{}
	}
	x := f.ext.Load()
	if x == nil {
		return true
	}
	x.mu.Lock()
	if x.done != nil {
		close(x.done)
	}
	then, stop := x.then, x.stop
	x.then = nil
	x.mu.Unlock()
	if stop != nil {
		stop() // the watcher is no longer needed (false if it is what ran)
	}
	for _, fn := range then {
		fn()
	}
	return true
}

// isResolved reports whether the outcome is set and visible.
func (f *Future[T]) isResolved() bool { return f.state.Load()&stateMask == resolved }

// outcome returns the value and error of a resolved future.
func (f *Future[T]) outcome() (T, error) {
	st := f.state.Load()
	if st&failedNil != 0 {
		return f.val, ErrNil
	}
	if x := f.ext.Load(); x != nil && x.err != nil {
		return f.val, x.err
	}
	return f.val, nil
}

// whenDone runs fn once the future has resolved: at once if it has, else
// on the resolving goroutine. fn must not block.
func (f *Future[T]) whenDone(fn func()) {
	f.handover()
	x := f.extension()
	x.mu.Lock()
	if !f.isResolved() {
		x.then = append(x.then, fn)
		f.armLocked(x)
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	fn()
}

// ctxErr is the command context's error (nil while it has not ended),
// with the cause the executor noted, if any (core.WaitingError).
func (x *futureExt) ctxErr() error {
	err := x.ctx.Err()
	if err == nil {
		return nil
	}
	if c := x.cause.Load(); c != nil {
		return &core.WaitingError{Ctx: err, Cause: *c}
	}
	return err
}

// sink is a Future seen from the executor's side: the methods that
// resolve it. A Future hands &sink out as its core.Sink, so resolving a
// future is not part of its public API.
type sink[T any] Future[T]

// asSink returns f as the core.Sink an executor completes.
func (f *Future[T]) asSink() *sink[T] { return (*sink[T])(f) }

// futureSink is implemented by the sinks of futures.
type futureSink interface{ future() Awaitable }

func (s *sink[T]) future() Awaitable { return (*Future[T])(s) }

// SetPull implements core.PullSink: Result will read the reply itself.
func (s *sink[T]) SetPull(m *core.PullMark) bool {
	return (*Future[T])(s).slot.CompareAndSwap(nil, markerOf(m))
}

// Resolved implements core.PullSink.
func (s *sink[T]) Resolved() bool { return (*Future[T])(s).isResolved() }

// NoteCause implements core.CauseNoter.
func (s *sink[T]) NoteCause(err error) {
	if f := (*Future[T])(s); !f.isResolved() {
		f.extension().cause.Store(&err)
	}
}

// pull reads f's reply on this goroutine when its connection left it to
// the waiter (core.Puller); while waitCtx (if not nil) or the command's
// context could end the wait, for at most core.PullSlice, since a
// goroutine blocked in a read cannot watch them.
func (f *Future[T]) pull(waitCtx context.Context) {
	w := f.slot.Load()
	if w == nil || w.mark == nil {
		return
	}
	var cmdCtx context.Context
	if x := f.ext.Load(); x != nil {
		cmdCtx = x.ctx
	}
	var until time.Time
	for _, ctx := range [2]context.Context{cmdCtx, waitCtx} {
		if ctx == nil || ctx.Done() == nil {
			continue
		}
		if ctx.Err() != nil {
			return // the waiter hands the reply over instead
		}
		if until.IsZero() {
			until = time.Now().Add(core.PullSlice)
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(until) {
			until = dl
		}
	}
	w.mark.Puller.Pull(until)
}

// handover asks the connection that left f's reply to its waiter to read
// it itself, for those who wait on Done or callbacks.
func (f *Future[T]) handover() {
	if w := f.slot.Load(); w != nil && w.mark != nil {
		w.mark.Puller.Handover()
	}
}

// claim puts w in f's slot, which must be empty or hold a connection's
// mark (that connection is then asked to read the reply itself).
func (f *Future[T]) claim(w *waiter) bool {
	for {
		cur := f.slot.Load()
		switch {
		case cur == nil:
			if f.slot.CompareAndSwap(nil, w) {
				return true
			}
		case cur.mark != nil:
			if f.slot.CompareAndSwap(cur, w) {
				cur.mark.Puller.Handover()
				return true
			}
		default:
			return false // another waiter, or resolved
		}
	}
}

// Complete implements core.Sink: it converts the reply and resolves the
// future, unless its context already did.
func (s *sink[T]) Complete(v protocol.Value, err error) { s.Offer(v, err) }

// Consumes implements core.Consumer.
func (s *sink[T]) Consumes() bool { return s.consumes }

// Offer implements core.Offerer: Complete that reports whether the future
// took the reply (false when its context had already resolved it, or is
// about to).
func (s *sink[T]) Offer(v protocol.Value, err error) bool {
	f := (*Future[T])(s)
	if f.expired() {
		return false // the context ended first; the reply is discarded
	}
	if err == nil {
		if err = v.Err(); err == nil {
			var val T
			if val, err = f.conv(v); err == nil {
				return f.resolve(val, nil)
			}
		}
	}
	var zero T
	return f.resolve(zero, err)
}

// Done returns a channel closed when the future resolves, for select.
func (f *Future[T]) Done() <-chan struct{} {
	if f.isResolved() {
		return closedChan
	}
	f.handover()
	x := f.extension()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		if f.isResolved() {
			return closedChan
		}
		x.done = make(chan struct{})
		f.armLocked(x)
	}
	return x.done
}

// Result waits for the future to resolve and returns its outcome. After
// Done is closed it returns at once.
func (f *Future[T]) Result() (T, error) {
	if !f.isResolved() {
		f.wait()
	}
	return f.outcome()
}

// wait blocks until f resolves or its context ends: in f's waiter slot,
// without allocating, when no other goroutine waits in Result; else on
// Done's channel.
func (f *Future[T]) wait() {
	if f.pull(nil); f.isResolved() {
		return
	}
	w := waiters.Get().(*waiter)
	if f.claim(w) {
		if x := f.ext.Load(); x != nil && x.ctx != nil {
			select {
			case <-w.ch:
			case <-x.ctx.Done():
				f.fail(x.ctxErr())
				<-w.ch // whoever resolved f swapped w out and signals it once
			}
		} else {
			<-w.ch // a plain receive: cheaper than a select with a nil case
		}
		waiters.Put(w)
		return
	}
	waiters.Put(w)
	if f.slot.Load() != tombstone {
		<-f.Done()
	}
	// A tombstone is stored just after the outcome, so it may be seen
	// before the resolver's final state: wait for that too.
	for !f.isResolved() {
		runtime.Gosched()
	}
}

// Val is Result without the error, for tests and examples.
func (f *Future[T]) Val() T {
	v, _ := f.Result()
	return v
}

// Err waits for the future and returns its error only.
func (f *Future[T]) Err() error {
	_, err := f.Result()
	return err
}

// IsResolved reports whether the future has resolved (a reply came, or
// it failed, or its context ended), without blocking. A reply left for
// the waiter to read is handed to the connection's reader, so that a
// caller who polls sees it arrive.
func (f *Future[T]) IsResolved() bool {
	if f.expired() {
		return true
	}
	f.handover()
	return false
}

// Wait waits for the future or for ctx to end, whichever is first, and
// returns the future's outcome or ctx.Err(): the select every caller would
// write otherwise. It abandons only the wait, never the command (the
// command's own context, given when it was issued, decides that).
func (f *Future[T]) Wait(ctx context.Context) (T, error) {
	if f.expired() {
		return f.Result() // resolved, or about to be
	}
	if f.pull(ctx); f.isResolved() {
		return f.outcome()
	}
	select {
	case <-f.Done():
		return f.outcome()
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
