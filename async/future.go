package async

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/asyncredis/asyncredis/protocol"
)

// Future is the eventual result of one command: a value of type T or an
// error, never both, never neither. It resolves exactly once, either when
// the reply arrives or when the context given at call time ends, whichever
// comes first; a reply that arrives after that is read and discarded.
//
// All methods are safe for concurrent use.
type Future[T any] struct {
	state atomic.Uint32  // pending, resolving, resolved
	wg    sync.WaitGroup // released on resolution; Result waits on it
	mu    sync.Mutex     // guards done
	done  chan struct{}  // made on the first Done call; closed on resolution
	then  []func()       // run once on resolution; guarded by mu
	val   T
	err   error
	conv  func(protocol.Value) (T, error)
	stop  func() bool // unregisters the context watcher, if any
}

const (
	pending uint32 = iota
	resolving
	resolved
)

// closedChan is handed out by Done for futures resolved before anyone asked.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func newFuture[T any](conv func(protocol.Value) (T, error)) *Future[T] {
	f := &Future[T]{conv: conv}
	f.wg.Add(1)
	return f
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

// watch makes the future fail with ctx.Err() as soon as ctx ends. It
// reports false when ctx has already ended (the future is then resolved).
func (f *Future[T]) watch(ctx context.Context) bool {
	if ctx.Done() == nil {
		return true
	}
	if err := ctx.Err(); err != nil {
		f.fail(err)
		return false
	}
	f.stop = context.AfterFunc(ctx, func() { f.fail(ctx.Err()) })
	return true
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
	f.val, f.err = v, err
	f.mu.Lock()
	f.state.Store(resolved)
	if f.done != nil {
		close(f.done)
	}
	then := f.then
	f.then = nil
	f.mu.Unlock()
	f.wg.Done()
	for _, fn := range then {
		fn()
	}
	return true
}

// whenDone runs fn once the future has resolved: at once if it has, else
// on the resolving goroutine. fn must not block.
func (f *Future[T]) whenDone(fn func()) {
	f.mu.Lock()
	if f.state.Load() != resolved {
		f.then = append(f.then, fn)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	fn()
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

// Complete implements core.Sink: it converts the reply and resolves the
// future, unless its context already did.
func (s *sink[T]) Complete(v protocol.Value, err error) { s.Offer(v, err) }

// Offer implements core.Offerer: Complete that reports whether the future
// took the reply (false when its context had already resolved it, or is
// about to).
func (s *sink[T]) Offer(v protocol.Value, err error) bool {
	f := (*Future[T])(s)
	if f.stop != nil && !f.stop() {
		return false // the context's watcher has run or is running: it wins
	}
	if f.state.Load() != pending {
		return false // the context won; the reply is discarded
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		if f.state.Load() == resolved {
			return closedChan
		}
		f.done = make(chan struct{})
	}
	return f.done
}

// Result waits for the future to resolve and returns its outcome. After
// Done is closed it returns at once.
func (f *Future[T]) Result() (T, error) {
	f.wg.Wait()
	return f.val, f.err
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

// Resolved reports whether the future has resolved, without blocking.
func (f *Future[T]) IsResolved() bool { return f.state.Load() == resolved }

// ResultCtx waits for the future or for ctx to end, whichever is first; it
// abandons only the wait, never the command.
func (f *Future[T]) ResultCtx(ctx context.Context) (T, error) {
	if f.state.Load() == resolved {
		return f.val, f.err
	}
	select {
	case <-f.Done():
		return f.val, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
