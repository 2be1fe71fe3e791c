package async

import (
	"context"
	"iter"
	"reflect"
	"sync/atomic"
)

// Awaitable is any Future, whatever its value type, for the helpers that
// wait on many.
type Awaitable interface {
	Done() <-chan struct{}
	Err() error
	whenDone(fn func())
}

// Map returns a future that resolves with fn of f's value once f resolves,
// or with f's error. fn runs on the goroutine that resolves f and must not
// block.
func Map[T, U any](f *Future[T], fn func(T) (U, error)) *Future[U] {
	out := newFuture[U](nil)
	f.whenDone(func() {
		v, err := f.Result()
		if err != nil {
			out.fail(err)
			return
		}
		u, err := fn(v)
		if err != nil {
			out.fail(err)
			return
		}
		out.resolve(u, nil)
	})
	return out
}

// WaitAll waits until every future has resolved or ctx ends. It returns
// the error of the first failed future in argument order, or ctx.Err().
func WaitAll(ctx context.Context, fs ...Awaitable) error {
	if err := checkFutures(ctx, fs); err != nil {
		return err
	}
	for _, f := range fs {
		select {
		case <-f.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, f := range fs {
		if err := f.Err(); err != nil {
			return err
		}
	}
	return nil
}

// WaitAny waits until one future resolves and returns its index, or -1 and
// ctx.Err() if ctx ends first.
func WaitAny(ctx context.Context, fs ...Awaitable) (int, error) {
	if err := checkFutures(ctx, fs); err != nil {
		return -1, err
	}
	idx := make(chan int, len(fs)) // buffered: resolvers never block
	for i, f := range fs {
		f.whenDone(func() { idx <- i })
	}
	select {
	case i := <-idx:
		return i, nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// AsCompleted yields the index of each future as it resolves, in the order
// they resolve. It stops early when ctx ends or the loop breaks; a caller
// that needs to know which ended it checks ctx.Err().
func AsCompleted(ctx context.Context, fs ...Awaitable) iter.Seq[int] {
	return func(yield func(int) bool) {
		if checkFutures(ctx, fs) != nil {
			return
		}
		idx := make(chan int, len(fs)) // buffered: resolvers never block
		for i, f := range fs {
			f.whenDone(func() { idx <- i })
		}
		for range fs {
			select {
			case i := <-idx:
				if !yield(i) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

// Join returns a future that resolves when every one of fs has resolved:
// with the error of the first failed one in argument order, else nil. It
// blocks nobody, so it can sit in a select beside other channels.
func Join(fs ...Awaitable) *Future[struct{}] {
	if err := checkFutures(context.Background(), fs); err != nil {
		return Failed[struct{}](err)
	}
	out := newFuture[struct{}](nil)
	if len(fs) == 0 {
		out.resolve(struct{}{}, nil)
		return out
	}
	var left atomic.Int64
	left.Store(int64(len(fs)))
	for _, f := range fs {
		f.whenDone(func() {
			if left.Add(-1) != 0 {
				return
			}
			for _, g := range fs {
				if err := g.Err(); err != nil {
					out.fail(err)
					return
				}
			}
			out.resolve(struct{}{}, nil)
		})
	}
	return out
}

// checkFutures refuses a nil context or a nil future, which would
// otherwise panic deep inside a wait.
func checkFutures(ctx context.Context, fs []Awaitable) error {
	if ctx == nil {
		return ErrNilContext
	}
	for _, f := range fs {
		if f == nil || isNilPointer(f) {
			return ErrNilFuture
		}
	}
	return nil
}

// isNilPointer reports whether v holds a nil pointer (a typed nil).
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
