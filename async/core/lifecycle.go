package core

import "sync"

// Lifecycle owns a set of goroutines: Go starts one unless Close has
// begun, and Close waits for all of them. The closed check and the
// WaitGroup's Add happen under one lock, so no goroutine starts after
// Close began and Close never returns while one still runs. The zero
// value is ready to use.
type Lifecycle struct {
	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup
}

// Go runs fn in a new goroutine and reports true, or reports false and
// does nothing once Close has begun.
func (l *Lifecycle) Go(fn func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn()
	}()
	return true
}

// Closed reports whether Close has begun.
func (l *Lifecycle) Closed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close refuses new goroutines and waits for the running ones to return
// (the caller makes them return, by cancelling their context). It reports whether this call was the one that closed;
// every call waits.
func (l *Lifecycle) Close() bool {
	l.mu.Lock()
	first := !l.closed
	l.closed = true
	l.mu.Unlock()
	l.wg.Wait()
	return first
}
