package async

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/asyncredis/asyncredis/protocol"
)

// Sink receives the outcome of one command. An Executor calls Complete
// exactly once per command it accepted, from any goroutine; a Sink that was
// already resolved by its context ignores the call.
type Sink interface {
	Complete(v protocol.Value, err error)
}

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

// NewFuture returns an unresolved future that converts the reply given to
// Complete with conv. It is for Executors and extensions that build their
// own commands; a future from Client is ready to use.
func NewFuture[T any](conv func(protocol.Value) (T, error)) *Future[T] { return newFuture(conv) }

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

// Complete implements Sink: it converts the reply and resolves the future,
// unless its context already did.
func (f *Future[T]) Complete(v protocol.Value, err error) { f.Offer(v, err) }

// Offer implements Offerer: Complete that reports whether the future
// took the reply (false when its context had already resolved it, or is
// about to).
func (f *Future[T]) Offer(v protocol.Value, err error) bool {
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
